"""A run's history: one row per finished epoch, read by column or by row.

>>> h = History(); h.append({"epoch": 1, "train_loss": 0.5}); h["train_loss"]
[0.5]
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from .metrics import HIGHER_IS_BETTER


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
        monitor = monitor or ("val_loss" if "val_loss" in self else "train_loss")
        vals = [(r.get(monitor), r.get("epoch")) for r in self.rows]
        vals = [(v, e) for v, e in vals if v is not None and not math.isnan(v)]
        if not vals:
            return None
        metric = monitor.removeprefix("val_").removeprefix("train_")
        higher = HIGHER_IS_BETTER.get(metric, False)
        return (max if higher else min)(vals, key=lambda t: t[0])[1]

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
