"""The per-epoch metric table and the view that shows it when training ends.

The table renders through :mod:`nbtrain.display.format` (HTML and a stable ``__repr__``, its plain
text twin for terminals, logs and nbval).  The only varying thing a training table holds is the
epoch time, always written by :func:`~nbtrain.display.format.duration` (``34 ms``, ``1.3 s``,
``2 min 5 s``) so that one sanitize rule (``format.TIME_SANITIZE``) covers it::

    regex: (\\d+ (h|min) )*\\d+(\\.\\d+)? ?(s|ms|µs|us|min|h)\\b
    replace: TIME
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..core.events import Callback
from .base import DisplaySink, history_rows
from .format import (
    MISSING,
    TIME_SANITIZE,
    Table,
    best_of,
    columns_of,
    format_value,
    html_table,
    kept_note,
    run_title,
    text_table,
)

__all__ = [
    "MISSING",
    "TIME_SANITIZE",
    "MetricTable",
    "Table",
    "TableView",
    "columns_of",
    "format_value",
    "html_table",
    "metric_columns",
    "text_table",
]


def metric_columns(rows: Sequence[dict]) -> list:
    """epoch, train_loss, val_loss, the other metrics (first-seen order), lr, time."""
    keys = columns_of(rows)
    head = [k for k in ("epoch", "train_loss", "val_loss") if k in keys]
    tail = [k for k in ("lr", "time") if k in keys]
    return head + [k for k in keys if k not in head and k not in tail] + tail


class MetricTable(Table):
    """One row per epoch: losses, metrics, lr and epoch time; the best epoch is marked ``*``.

    >>> t = MetricTable([{"epoch": 1.0, "train_loss": 0.9, "val_loss": 0.8, "lr": 0.01, "time": 0.5},
    ...                  {"epoch": 2.0, "train_loss": 0.5, "val_loss": 0.6, "lr": 0.01, "time": 0.25}],
    ...                 best=2, title="run1: completed, 2/2 epochs")
    >>> print(t)
    run1: completed, 2/2 epochs
      epoch  train_loss  val_loss  lr    time
      1      0.9         0.8       0.01  500 ms
    * 2      0.5         0.6       0.01  250 ms
    * best epoch 2 (val_loss)

    A run longer than ``FOLD_AFTER`` epochs shows its first, best and last epochs (``KEEP`` rows
    each) and folds the rest into ``...`` rows; ``run.history`` holds every epoch.
    """

    FOLD_AFTER = 20
    KEEP = 3

    def __init__(
        self,
        rows: Iterable[dict],
        best: int | None = None,
        monitor: str | None = None,
        title: str | None = None,
        note: str | None = None,
    ):
        rows = [dict(r) for r in rows]
        idx = next((i for i, r in enumerate(rows) if best is not None and r.get("epoch") == best), None)
        if monitor is None:
            monitor = "val_loss" if any("val_loss" in r for r in rows) else "train_loss"
        footer = f"* best epoch {best} ({monitor})" if idx is not None else None
        if note and footer:
            footer += f"; {note}"
        self.all_rows = rows
        rows, idx, folded = self._fold(rows, idx)
        if folded:
            shown = f"{len(self.all_rows) - folded} of {len(self.all_rows)} epochs shown (run.history has all)"
            footer = f"{footer}; {shown}" if footer else shown
        super().__init__(rows, metric_columns(self.all_rows), highlight=idx, title=title, footer=footer)
        self.best, self.monitor = best, monitor

    @classmethod
    def _fold(cls, rows: list, idx: int | None) -> tuple:
        """``(rows, best index, folded count)``: the first, best and last epochs of a long run, each run
        of left-out epochs one ``...`` row."""
        n = len(rows)
        if n <= cls.FOLD_AFTER:
            return rows, idx, 0
        keep = set(range(cls.KEEP)) | set(range(n - cls.KEEP, n))
        if idx is not None:
            keep |= {i for i in range(idx - 1, idx + 2) if 0 <= i < n}
        gap = dict.fromkeys(metric_columns(rows), "") | {"epoch": "..."}
        out, new_idx, last = [], None, -1
        for i in sorted(keep):
            if i > last + 1:
                out.append(dict(gap))
            if i == idx:
                new_idx = len(out)
            out.append(rows[i])
            last = i
        return out, new_idx, n - len(keep)

    @classmethod
    def from_run(cls, run, rows: list | None = None) -> MetricTable:
        rows = history_rows(run) if rows is None else rows
        best = best_of(run, rows)
        return cls(
            rows,
            best=None if best is None else best.epoch,
            monitor=None if best is None else best.monitor,
            title=run_title(run, rows),
            note="; ".join(n for n in (kept_note(run, rows), target_note(run, rows)) if n) or None,
        )


def target_note(run, rows: Sequence) -> str | None:
    """What a metric means for targets beyond one label a row (core/targets.py), where the table shows it."""
    kind = (getattr(run, "config", None) or {}).get("target_kind")
    keys = {k.split("_", 1)[-1] for r in rows for k in r}
    if kind == "multihot" and "accuracy" in keys:
        return "accuracy is subset accuracy: a row counts when all its labels are right"
    if kind == "positions" and keys & {"accuracy", "iou"}:
        return "metrics count labelled positions only (-100 left out)"
    return None


class TableView(Callback):
    """Shows the final metric table as a new output when training ends (nothing live: a table
    updated in place would break nbval, and the plot already shows progress)."""

    def __init__(self, sink: DisplaySink | None = None):
        self.sink = sink or DisplaySink()
        self.table: MetricTable | None = None

    def on_fit_end(self, run, status, **kw):
        rows = history_rows(run)
        if not rows:
            return
        self.table = MetricTable.from_run(run, rows)
        self.sink.show(self.table.bundle())
