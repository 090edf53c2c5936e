"""What every logger shares: guarded writes (a broken logger warns once and goes quiet; the run goes
on), the run's settings as flat parameters, and the run's final status in words.

A logger is a :class:`~nbtrain.core.events.Callback` that writes once per epoch (``on_epoch_end``),
never per batch, so it costs the training loop nothing between epochs.
"""

from __future__ import annotations

import math
import os
import warnings

from ..core.errors import ConfigError, quote
from ..core.events import Callback

#: the settings every logger writes first, in this order (then the rest of ``run.config``)
MAIN_SETTINGS = ("model", "loss", "optimizer", "lr", "epochs", "batch_size", "preprocess", "seed")
#: config entries that are bookkeeping, not settings
_SKIP = {"input_shape", "model_spec", "n_out", "target_ndim", "checkpoint", "rank_files"}


class LoggerWarning(UserWarning):
    """A logger could not write (a tracking server down, a full disk); the run went on without it."""


def require(module: str, extra: str, what: str):
    """Import an optional library, or a ConfigError naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"{what} needs the {module.split('.')[0]} package, which is not installed; pip install 'nbtrain[{extra}]'."
        ) from None


def settings(config: dict) -> dict:
    """The run's settings as flat, printable values: numbers, booleans and strings (lists joined)."""
    out = {}
    keys = [k for k in MAIN_SETTINGS if k in config] + [k for k in config if k not in MAIN_SETTINGS]
    for key in keys:
        value = config[key]
        if key in _SKIP:
            continue
        if isinstance(value, dict):  # e.g. the sweep a trial belongs to: one level, flattened
            for k, v in value.items():
                if not isinstance(v, (dict, list, tuple)):
                    out[f"{key}.{k}"] = _plain(v)
            continue
        out[key] = _plain(value)
    return out


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return "None" if value is None else value
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def numbers(logs: dict) -> dict:
    """The numeric columns of a history row, without the epoch (the step)."""
    return {
        k: float(v) for k, v in logs.items() if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def outcome(run, status: str) -> str:
    """The status in words: ``completed``, ``stopped: <why>``, ``failed: <reason>``."""
    why = run.error if status == "failed" else (run.note or getattr(run, "stop_reason", None))
    return f"{status}: {why}" if why and status != "completed" else status


def fill(template: str, name: str) -> str:
    """A path with ``{name}`` replaced by the run's name (``sweep1/3`` makes a sub-folder)."""
    return os.path.expanduser(template.replace("{name}", name))


class Logger(Callback):
    """The guarded base: subclasses implement ``start``, ``epoch``, ``evaluated`` and ``end``.

    Any exception in them becomes one :class:`LoggerWarning` for the run, and the logger writes nothing
    more for that run; training is never stopped by a logger.
    """

    what = "logger"

    def __init__(self):
        self._broken: str | None = None

    def _guard(self, fn, *args) -> None:
        if self._broken is not None:
            return
        try:
            fn(*args)
        except Exception as exc:  # a logger never fails a run
            self._fail(exc)

    def _fail(self, exc) -> None:
        if self._broken is None:
            self._broken = quote(exc) if isinstance(exc, BaseException) else str(exc)
            warnings.warn(
                f"{self.what} logging stopped: {self._broken}; training goes on without it.",
                LoggerWarning,
                stacklevel=2,
            )

    # the Callback hooks -------------------------------------------------------------
    def on_fit_start(self, run, **kwargs) -> None:
        self._broken = None  # a logger shared by several runs (a sweep's trials) tries each run afresh
        self._guard(self.start, run)

    def on_epoch_end(self, run, epoch, logs, **kwargs) -> None:
        self._guard(self.epoch, run, int(epoch), logs)

    def on_fit_end(self, run, status, **kwargs) -> None:
        self._guard(self.end, run, status)

    def on_evaluate(self, run, on, metrics, **kwargs) -> None:
        values = {f"{on}_{k}": float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        self._guard(self.evaluated, run, {k: v for k, v in values.items() if not math.isnan(v)})

    # what subclasses write ------------------------------------------------------------
    def start(self, run) -> None:
        """Open the destination; write the settings (and the rows of a resumed history)."""

    def epoch(self, run, epoch: int, logs: dict) -> None:
        """Write one history row."""

    def evaluated(self, run, metrics: dict) -> None:
        """Write ``{"test_accuracy": ...}`` after training ended."""

    def end(self, run, status: str) -> None:
        """Write the final status; close what was opened."""
