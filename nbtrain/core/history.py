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
