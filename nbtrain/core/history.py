"""A run's history: one row per finished epoch, read by column or by row.

>>> h = History(); h.append({"epoch": 1, "train_loss": 0.5}); h["train_loss"]
[0.5]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from .metrics import HIGHER_IS_BETTER


class Best(NamedTuple):
    """The best epoch of a run: its number, the column that chose it and that column's value there."""

    epoch: int
    monitor: str
    value: float | None


def resolve_best(rows: Sequence[dict], monitor: str | None = None, mode: str | None = None, kept=None) -> Best | None:
    """The best epoch of ``rows`` (history rows), the one rule every view and ``History`` use.

    - ``kept``: the epoch whose weights early stopping kept (``run.best_epoch``); it wins when it is
      one of the rows.
    - ``monitor``: the column that decides (``run.config["monitor"]``); when absent from the rows,
      val_loss, else train_loss.
    - ``mode``: "min" or "max"; default from the metric (accuracy, f1, r2, ... are higher-is-better).

    >>> rows = [{"epoch": 1, "val_loss": 0.5, "val_accuracy": 0.8}, {"epoch": 2, "val_loss": 0.4, "val_accuracy": 0.7}]
    >>> resolve_best(rows, "val_accuracy")
    Best(epoch=1, monitor='val_accuracy', value=0.8)
    >>> resolve_best(rows).epoch
    2
    """
    rows = list(rows)
    keys = {k for r in rows for k in r}
    if not monitor or monitor not in keys:
        monitor = "val_loss" if "val_loss" in keys else "train_loss"
    if kept is not None:
        row = next((r for r in rows if r.get("epoch") == kept), None)
        if row is not None:
            return Best(int(kept), monitor, row.get(monitor))
    vals = [(r.get(monitor), r.get("epoch")) for r in rows]
    vals = [(v, e) for v, e in vals if isinstance(v, (int, float)) and not math.isnan(v) and e is not None]
    if not vals:
        return None
    if mode is None:
        metric = monitor.removeprefix("val_").removeprefix("train_")
        mode = "max" if HIGHER_IS_BETTER.get(metric, False) else "min"
    v, e = (max if mode == "max" else min)(vals, key=lambda t: t[0])
    return Best(int(e), monitor, v)


def run_best(run, rows: Sequence[dict] | None = None) -> Best | None:
    """A run's best epoch by :func:`resolve_best` with the run's own ``monitor`` and kept epoch: what
    ``Run.best``, ``%runs``, the repr, the metric table, the panel record and a sweep's trial value use."""
    rows = [dict(r) for r in run.history] if rows is None else rows
    cfg = getattr(run, "config", None) or {}
    return resolve_best(rows, cfg.get("monitor"), kept=getattr(run, "best_epoch", None))


#: the columns a one-value summary of a run shows, first present wins (after a non-loss monitor)
SHOWN = ("val_accuracy", "val_r2", "val_f1", "val_loss", "train_loss")


def shown_value(best: Best, row: dict) -> tuple[str, float] | None:
    """The (column, value) that sums up the best epoch's row: the monitor when it is a metric (not a
    loss), else accuracy / r2 / f1, else the monitored loss.  Always a value of the best epoch's row."""
    keys = ([best.monitor] if not best.monitor.endswith("loss") else []) + list(SHOWN)
    for key in keys:
        v = row.get(key)
        if isinstance(v, (int, float)) and not math.isnan(v):
            return key, float(v)
    return None


def kept_epoch(run, rows: Sequence[dict] | None = None) -> int | None:
    """The epoch whose weights the model holds: the best one when they were restored (patience or
    restore_best), else the last finished epoch."""
    rows = [dict(r) for r in run.history] if rows is None else rows
    kept = getattr(run, "best_epoch", None)
    if kept is not None:
        return int(kept)
    epochs = [r.get("epoch") for r in rows if r.get("epoch") is not None]
    return int(epochs[-1]) if epochs else None


def best_row(run, monitor: str | None = None) -> dict:
    """The history row of the run's best epoch (:func:`run_best`; by ``monitor`` when one is given)."""
    rows = [dict(r) for r in run.history]
    best = run_best(run, rows) if monitor is None else resolve_best(rows, monitor) if monitor in run.history else None
    return next((r for r in rows if best is not None and r.get("epoch") == best.epoch), {})


def run_repr(run, kind: str, extra: str = "") -> str:
    """``Run('r1', completed, 10/10 epochs, best epoch 7: val_accuracy=0.95)``: the best epoch of
    :func:`run_best` and its summed-up value (the same as ``%runs``, the table's ``*`` and the record)."""
    rows = [dict(r) for r in run.history]
    best = run_best(run, rows)
    text = ""
    if best is not None:
        row = next((r for r in rows if r.get("epoch") == best.epoch), {})
        shown = shown_value(best, row)
        if shown is not None:
            text = f", best epoch {best.epoch}: {shown[0]}={shown[1]:.4g}"
    epochs = f"{len(rows)}/{(getattr(run, 'config', None) or {}).get('epochs')} epochs"
    return f"{kind}({run.name!r}, {run.status}, {epochs}{text}{extra})"


class History:
    def __init__(self, rows=None):
        self.rows: list[dict] = [dict(r) for r in (rows or [])]

    def append(self, row: dict) -> None:
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict]:
        return (dict(r) for r in self.rows)

    def __contains__(self, key) -> bool:
        return any(key in r for r in self.rows)

    def keys(self) -> list[str]:
        seen: dict = {}
        for r in self.rows:
            for k in r:
                seen.setdefault(k, None)
        return list(seen)

    def __getitem__(self, key):
        if isinstance(key, int):
            return dict(self.rows[key])
        if key not in self and self.rows:
            raise KeyError(f"{key!r} is not in this history; its columns are {', '.join(self.keys())}.")
        return [r.get(key, math.nan) for r in self.rows]

    def get(self, key, default=None):
        return self[key] if key in self else default

    @property
    def last(self) -> dict:
        return dict(self.rows[-1]) if self.rows else {}

    def best_epoch(self, monitor: str | None = None) -> int | None:
        """The epoch with the best value of ``monitor`` (default: val_loss, else train_loss)."""
        if monitor and monitor not in self:
            return None
        best = resolve_best(self.rows, monitor)
        return None if best is None else best.epoch

    def to_dict(self) -> dict:
        return {k: self[k] for k in self.keys()}

    @classmethod
    def from_dict(cls, cols: dict) -> History:
        n = max((len(v) for v in cols.values()), default=0)
        return cls([{k: v[i] for k, v in cols.items() if i < len(v)} for i in range(n)])

    def __repr__(self) -> str:
        if not self.rows:
            return "History(empty)"
        return f"History({len(self.rows)} epochs, columns: {', '.join(self.keys())})"
