"""Search spaces: values a sweep samples instead of fixing them.

A space stands anywhere a value of ``train`` goes (``lr``, ``model``, ``batch_size``, ``optimizer``,
``epochs``, ...), also one level down inside a list, tuple or dict (``preprocess=["impute", choice([...])]``).
Bad bounds are an error when the space is made, before any trial.

>>> lr = loguniform(1e-4, 1e-1)
>>> model = choice(["mlp(32)", "mlp(64, 64)"])
>>> find_spaces({"lr": lr, "model": model, "epochs": 5}) == {"lr": lr, "model": model}
True
"""

from __future__ import annotations

import copy
import math
import numbers

import torch

from ..errors import ConfigError

_PRIMITIVE = (str, int, float, bool, type(None))


def _number(value, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{name}: {what} must be a finite number, got {value!r}.")
    return float(value)


class Space:
    """Base of the search spaces; ``size`` is the number of values (None: continuous)."""

    kind = "space"
    size: int | None = None

    def suggest(self, trial, name: str):
        """The value for this trial (Optuna's ``trial.suggest_*``)."""
        raise NotImplementedError

    def grid(self) -> list:
        """Every value, for the grid sampler; continuous spaces have none."""
        raise ConfigError(
            f"the grid sampler needs discrete spaces (choice, intrange); {self!r} is continuous: "
            "use --sampler tpe or random, or a choice([...]) of values."
        )

    def example(self):
        """A value from the space (for the pre-flight check before the first trial)."""
        raise NotImplementedError


class LogUniform(Space):
    """A float sampled uniformly in log space between ``low`` and ``high`` (learning rates)."""

    kind = "loguniform"

    def __init__(self, low, high):
        self.low = _number(low, "low", "loguniform")
        self.high = _number(high, "high", "loguniform")
        if self.low <= 0:
            raise ConfigError(
                f"loguniform({low!r}, {high!r}): the bounds must be positive, e.g. loguniform(1e-4, 1e-1)."
            )
        if self.low >= self.high:
            raise ConfigError(f"loguniform({low!r}, {high!r}): low must be below high, e.g. loguniform(1e-4, 1e-1).")

    def suggest(self, trial, name):
        return trial.suggest_float(name, self.low, self.high, log=True)

    def example(self):
        return math.sqrt(self.low * self.high)

    def __repr__(self):
        return f"loguniform({self.low:g}, {self.high:g})"


class Uniform(Space):
    """A float sampled uniformly between ``low`` and ``high``."""

    kind = "uniform"

    def __init__(self, low, high):
        self.low = _number(low, "low", "uniform")
        self.high = _number(high, "high", "uniform")
        if self.low >= self.high:
            raise ConfigError(f"uniform({low!r}, {high!r}): low must be below high, e.g. uniform(0.0, 0.5).")

    def suggest(self, trial, name):
        return trial.suggest_float(name, self.low, self.high)

    def example(self):
        return (self.low + self.high) / 2

    def __repr__(self):
        return f"uniform({self.low:g}, {self.high:g})"


class IntRange(Space):
    """An integer from ``low`` to ``high`` inclusive, in steps of ``step`` (``log=True``: log-spaced)."""

    kind = "intrange"

    def __init__(self, low, high, step=1, log=False):
        for what, v in (("low", low), ("high", high), ("step", step)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise ConfigError(f"intrange: {what} must be an integer, got {v!r}.")
        self.low, self.high, self.step, self.log = int(low), int(high), int(step), bool(log)
        if self.step < 1:
            raise ConfigError(f"intrange: step must be at least 1, got {step!r}.")
        if self.low > self.high:
            raise ConfigError(f"intrange({low!r}, {high!r}): low must not be above high, e.g. intrange(1, 4).")
        if self.log and (self.low < 1 or self.step != 1):
            raise ConfigError("intrange(..., log=True) needs low >= 1 and step=1.")
        self.size = (self.high - self.low) // self.step + 1

    def suggest(self, trial, name):
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def grid(self):
        return list(range(self.low, self.high + 1, self.step))

    def example(self):
        return self.low

    def __repr__(self):
        step = f", step={self.step}" if self.step != 1 else ""
        return f"intrange({self.low}, {self.high}{step}{', log=True' if self.log else ''})"


def label(value) -> str:
    """A short, stable name for a choice that Optuna cannot store as it is (a module, a class)."""
    if isinstance(value, str):
        return value
    if isinstance(value, _PRIMITIVE):
        return repr(value)
    if isinstance(value, type) or callable(value) and hasattr(value, "__name__"):
        return getattr(value, "__name__", type(value).__name__)
    return type(value).__name__


class Choice(Space):
    """One of ``values``: numbers, strings, presets, modules, optimizer classes...

    Optuna stores numbers, strings, booleans and None as they are; any other value is stored by a
    label (its class or function name, numbered where two are alike) and mapped back here.
    """

    kind = "choice"

    def __init__(self, values):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ConfigError(f'choice takes a list of values, e.g. choice(["adam", "sgd"]), got {values!r:.80}.')
        self.values = list(values)
        if not self.values:
            raise ConfigError('choice([]) is empty: give it the values to try, e.g. choice(["adam", "sgd"]).')
        self.size = len(self.values)
        self.primitive = all(isinstance(v, _PRIMITIVE) for v in self.values)
        if self.primitive:
            self.labels = list(self.values)
        else:
            names = [label(v) for v in self.values]
            self.labels = [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]

    def value_of(self, stored):
        return stored if self.primitive else self.values[self.labels.index(stored)]

    def suggest(self, trial, name):
        return self.value_of(trial.suggest_categorical(name, self.labels))

    def grid(self):
        return list(self.labels)

    def example(self):
        return self.values[0]

    def __repr__(self):
        return f"choice({self.labels!r:.100})"


def loguniform(low, high) -> LogUniform:
    """A float sampled log-uniformly in [low, high]: ``lr = nbtrain.loguniform(1e-4, 1e-1)``."""
    return LogUniform(low, high)


def uniform(low, high) -> Uniform:
    """A float sampled uniformly in [low, high]: ``dropout = nbtrain.uniform(0.0, 0.5)``."""
    return Uniform(low, high)


def intrange(low, high, step=1, log=False) -> IntRange:
    """An integer in [low, high]: ``epochs = nbtrain.intrange(5, 20, step=5)``."""
    return IntRange(low, high, step, log)


def choice(values) -> Choice:
    """One of ``values``: ``model = nbtrain.choice(["mlp(32)", "mlp(64, 64)"])``."""
    return Choice(values)


# ---------------------------------------------------------------------------- spaces inside train's arguments
def _inner(value):
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, (list, tuple)):
        return list(enumerate(value))
    return []


def find_spaces(kwargs: dict) -> dict:
    """``{parameter name: Space}`` for every space among ``kwargs``' values (and one level inside
    lists, tuples and dicts, named ``preprocess[1]`` or ``metrics[key]``)."""
    found = {}
    for key, value in kwargs.items():
        if isinstance(value, Space):
            found[key] = value
        elif not isinstance(value, (str, bytes)):
            for k, v in _inner(value):
                if isinstance(v, Space):
                    found[f"{key}[{k}]"] = v
    return found


def substitute(kwargs: dict, values: dict) -> dict:
    """``kwargs`` with each space replaced by its value in ``values`` (keys as :func:`find_spaces`).

    Modules and optimizers are deep-copied (with one memo, so an optimizer stays bound to its model's
    copy): every trial starts from the weights the user declared, and those are never changed.
    """
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, Space):
            out[key] = values[key]
        elif isinstance(value, (list, tuple, dict)) and any(isinstance(v, Space) for _, v in _inner(value)):
            if isinstance(value, dict):
                out[key] = {k: values[f"{key}[{k}]"] if isinstance(v, Space) else v for k, v in value.items()}
            else:
                items = [values[f"{key}[{i}]"] if isinstance(v, Space) else v for i, v in enumerate(value)]
                out[key] = type(value)(items) if isinstance(value, list) else tuple(items)
        else:
            out[key] = value
    memo: dict = {}
    for key in ("model", "optimizer"):
        if isinstance(out.get(key), (torch.nn.Module, torch.optim.Optimizer)):
            out[key] = copy.deepcopy(out[key], memo)
    return out
