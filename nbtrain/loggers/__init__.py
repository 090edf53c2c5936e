"""Loggers: runs written where teams already look.  Each is a :class:`nbtrain.Callback`.

- :class:`TensorBoard` (``runs/<name>``, TensorBoard's own ``SummaryWriter``; ``nbtrain[tensorboard]``)
- :class:`MLflow` (MLflow's own client; ``nbtrain[mlflow]``)
- :class:`CSV` (``runs/<name>/history.csv``; nothing to install)

>>> run = nbtrain.train(data, log="tensorboard")                                  # doctest: +SKIP
>>> run = nbtrain.train(data, callbacks=[nbtrain.loggers.MLflow("sqlite:///mlflow.db")])  # doctest: +SKIP

The optional libraries are imported only when a logger is made.
"""

from __future__ import annotations

import difflib

from ..core.errors import ConfigError
from .base import Logger, LoggerWarning
from .csv import CSV
from .mlflow import MLflow
from .tensorboard import TensorBoard

__all__ = ["TensorBoard", "MLflow", "CSV", "Logger", "LoggerWarning", "from_option", "KNOWN"]

KNOWN = {"tensorboard": TensorBoard, "mlflow": MLflow, "csv": CSV}


def from_option(log) -> list:
    """``log="tensorboard"`` / ``"mlflow"`` / ``"csv"``, a comma-separated string or a list of them
    (or of logger objects) -> the loggers, each with its defaults.  None or "none" -> [].

    >>> [type(x).__name__ for x in from_option("csv")]
    ['CSV']
    """
    if log is None or log is False or (isinstance(log, str) and log.strip().lower() in ("", "none")) or log == ():
        return []
    items = log.split(",") if isinstance(log, str) else log
    if not isinstance(items, (list, tuple)):
        items = [items]
    out = []
    for item in items:
        if isinstance(item, Logger):
            out.append(item)
            continue
        if not isinstance(item, str):
            raise ConfigError(
                f"log takes 'tensorboard', 'mlflow', 'csv' or a list of them, got {type(item).__name__}; "
                "pass logger objects through callbacks=[...]."
            )
        key = item.strip().lower()
        if key not in KNOWN:
            close = difflib.get_close_matches(key, list(KNOWN), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"log={item!r} is not a logger{hint}; the loggers are {', '.join(KNOWN)}.")
        out.append(KNOWN[key]())
    return out
