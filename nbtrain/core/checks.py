"""Checkers of single option values, as the option registry (``core/options.py``) names them.

Every checker is ``check(value, name, given) -> checked value``: ``name`` is the option's name (for the
message), ``given`` every option's raw value (for the few checks that depend on another option).  A bad
value raises a :class:`~nbtrain.ConfigError` (or ``DataTypeError``) naming the option and a good value.

>>> count(5, "epochs", {})
5
"""

from __future__ import annotations

import math
import os

import numpy as np

from .errors import ConfigError, DataTypeError


def positive_int(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be a fraction in [0, 1), got {value!r}; e.g. {name}=0.2.")
    return float(value)


def positive_number(value, name: str, example: str):
    if value is None:
        return None
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not 0 < float(value) < float("inf"):
        raise ConfigError(f"{name} must be a positive number, got {value!r:.60}; e.g. {name}={example}.")
    return float(value)


# ---------------------------------------------------------------------------- checkers (value, name, given)
def anything(value, name, given):
    return value


def count(value, name, given):
    """A positive integer (epochs, batch_size, accumulate)."""
    return positive_int(value, name)


def optional_count(value, name, given):
    """None or a positive integer (patience, steps_per_epoch)."""
    return positive_int(value, name, allow_none=True)


def split_fraction(value, name, given):
    """``val`` / ``test``: a fraction, or 0.0 when ``val_data`` / ``test_data`` is declared."""
    if given.get(f"{name}_data") is not None:
        return 0.0
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(
            f"{name} must be a fraction in [0, 1), got {type(value).__name__}; held-out data goes in {name}_data."
        )
    value = fraction(value, name)
    other = "test" if name == "val" else "val"
    rest = 0.0 if given.get(f"{other}_data") is not None else given.get(other, 0.0)
    if isinstance(rest, (int, float)) and not isinstance(rest, bool) and 0 <= rest < 1 and value + rest >= 1:
        val, test = (value, rest) if name == "val" else (rest, value)
        raise ConfigError(f"val={val} and test={test} leave no training data; make val + test less than 1.")
    return value


def learning_rate(value, name, given):
    """None, ``"auto"`` (``train`` runs the finder for it before ``prepare``), a dict of rates by
    parameter-name pattern (``{"classifier.*": 1e-3, "*": 2e-5}``) or a positive number, kept
    as a plain float: an ``lr_find`` suggestion is a float subclass, and the run's config holds the number."""
    if value is None or isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, dict):  # rates by parameter-name pattern (core/finetune.py)
        from .finetune import check_rates

        return check_rates(value)
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not 0 < float(value) < math.inf:
        raise ConfigError(f"{name} must be a positive number, got {value!r:.60}; try e.g. lr=0.01.")
    return float(value)


def seed(value, name, given):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not -(2**63) <= value < 2**63:
        raise ConfigError(f"seed must be an integer (a 64-bit one), got {value!r}.")
    return int(value)


def metric_names(value, name, given):
    ok = value is None or isinstance(value, str)
    ok = ok or (isinstance(value, (list, tuple)) and all(isinstance(m, str) for m in value))
    if not ok:
        raise DataTypeError(f'metrics must be a name like "accuracy" or a list of names, got {value!r:.80}.')
    return value


def column_name(value, name, given):
    """``monitor``: a history column name."""
    if value is not None and not isinstance(value, str):
        raise ConfigError(f'monitor must be a history column name such as "val_loss", got {value!r:.80}.')
    return value


def column(value, name, given):
    """``target``: a DataFrame column's name (a string or a number), a list of them (the 0/1 columns
    of a multi-hot target), or None."""
    one = lambda v: isinstance(v, (str, int, np.integer)) and not isinstance(v, bool)  # noqa: E731
    if value is None or one(value):
        return value
    if isinstance(value, list) and value and all(one(v) for v in value):
        return value
    raise ConfigError(
        f"target must be the name of a DataFrame column, e.g. target='label', got {type(value).__name__}."
    )


def path(value, name, given):
    """``checkpoint``: None or a file path."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    raise ConfigError(f"{name} must be a file path, e.g. {name}='run.ckpt', got {type(value).__name__}.")


def optional_int(value, name, given):
    """``processes``: None or an integer (checked further where it is used)."""
    if value is None or isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{name} must be a whole number, got {value!r:.60}.")


def function(value, name, given):
    """None or a callable (``collate``, a hook): ``opts.<name>`` holds it."""
    if value is None or callable(value):
        return value
    raise ConfigError(f"{name} must be a function, got {type(value).__name__}.")


def switch(value, name, given):
    """A strict True / False."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r:.60}.")
    return value


def truthy(value, name, given):
    return bool(value)


def positive(example: str):
    """None or a positive number (``clip``, ``clip_value``); both clips at once is an error."""

    def check(value, name, given):
        value = positive_number(value, name, example)
        if name == "clip_value" and value is not None and given.get("clip") is not None:
            raise ConfigError("clip= (max gradient norm) and clip_value= (max gradient element) are both set; use one.")
        return value

    return check


def one_of(*choices):
    """One of ``choices`` (None allowed when it is one of them)."""

    def check(value, name, given):
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices if c is not None)
            raise ConfigError(f"{name} must be {shown}, got {value!r:.60}.")
        return value

    return check


def workers(value, name, given):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"workers must be a whole number >= 0 (DataLoader processes), got {value!r:.60}.")
    return int(value)


def classes(value, name, given):
    """A count K (labels 0..K-1) or the class names; ``"A,B,C"`` and ``"3"`` (from a magic) too."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [c.strip() for c in value.split(",") if c.strip()]
        if len(value) == 1 and value[0].isdigit():
            value = int(value[0])
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 2:
            raise ConfigError(f"classes must be at least 2 (a count) or a list of names, got {value!r}.")
        value = int(value)
    elif isinstance(value, (list, tuple, np.ndarray)):
        value = list(value)
        if len(value) < 2 or len(set(map(repr, value))) != len(value):
            raise ConfigError(f"classes must name at least two different classes, got {value!r:.80}.")
    else:
        raise ConfigError(f"classes must be a count K or a list of class names, got {value!r:.60}.")
    if given.get("task") == "regression":
        raise ConfigError("classes= is for classification, but task='regression' was declared; drop one.")
    return value
