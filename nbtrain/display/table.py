"""Tables: the per-epoch metric table and generic HTML + text renderings of rows and dicts.

Every table is an object with ``_repr_html_`` (for notebooks) and a stable ``__repr__`` (its plain
text twin, for terminals, logs and nbval).  Numbers are formatted with a fixed number of
significant digits; the only varying thing a training table holds is the epoch time, always
written as ``<number>s`` (e.g. ``0.034s``) so that one sanitize rule covers it::

    regex: \\d+(\\.\\d+)? ?(s|ms|µs|us)\\b
    replace: TIME

>>> print(Table([{"name": "a", "acc": 0.91234}, {"name": "b", "acc": 0.8}], highlight=0))
  name  acc
* a     0.9123
  b     0.8
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

from ..core.events import Callback
from .base import DisplaySink, best_epoch, history_rows

MISSING = "-"
#: the nbval sanitize regex for the only varying text in training tables (epoch times)
TIME_SANITIZE = r"\d+(\.\d+)? ?(s|ms|µs|us)\b"


def format_value(value, key: str | None = None) -> str:
    """A short, stable string for a cell: 4 significant digits, times as ``0.123s``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if key == "epoch" and value.is_integer():
            return str(int(value))
        if key is not None and (key == "time" or key.endswith("_time")):
            # never e-notation, so one sanitize regex covers every duration
            return f"{value:.0f}s" if value >= 100 else f"{value:.3g}s" if value >= 1e-3 else f"{value:.4f}s"
        if key == "lr":
            return f"{value:.3g}"
        return f"{value:.4g}"
    try:  # numpy scalars and 0-d tensors
        return format_value(value.item(), key)
    except (AttributeError, ValueError):
        return str(value)


def columns_of(rows: Sequence[dict]) -> list:
    """The keys of ``rows`` in first-seen order."""
    seen: dict = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def text_table(
    rows: Sequence[dict],
    columns: Sequence[str] | None = None,
    *,
    highlight=None,
    title: str | None = None,
    footer: str | None = None,
) -> str:
    """Rows of dicts as aligned plain text; the ``highlight`` row index is marked with ``*``."""
    columns = list(columns) if columns is not None else columns_of(rows)
    cells = [[format_value(r.get(c), c) for c in columns] for r in rows]
    widths = [max([len(str(c))] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = [] if title is None else [title]
    lines.append(("  " + "  ".join(str(c).ljust(w) for c, w in zip(columns, widths))).rstrip())
    for i, row in enumerate(cells):
        mark = "* " if highlight == i else "  "
        lines.append((mark + "  ".join(v.ljust(w) for v, w in zip(row, widths))).rstrip())
    if footer:
        lines.append(footer)
    return "\n".join(lines)


_STYLE = (
    "border-collapse:collapse;font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px)"
)


def html_table(
    rows: Sequence[dict],
    columns: Sequence[str] | None = None,
    *,
    highlight=None,
    title: str | None = None,
    footer: str | None = None,
) -> str:
    """Rows of dicts as an HTML table (escaped); the ``highlight`` row is bold with a ``*``."""
    columns = list(columns) if columns is not None else columns_of(rows)
    esc = html.escape
    out = [f'<table class="nbtrain-table" style="{_STYLE}">']
    if title:
        out.append(f'<caption style="text-align:left;font-weight:bold">{esc(title)}</caption>')
    out.append(
        "<thead><tr><th></th>"
        + "".join(f'<th style="text-align:right;padding:2px 8px">{esc(str(c))}</th>' for c in columns)
        + "</tr></thead>"
    )
    out.append("<tbody>")
    for i, r in enumerate(rows):
        best = highlight == i
        style = ' style="font-weight:bold;background:rgba(80,160,80,0.18)"' if best else ""
        out.append(
            f"<tr{style}><td>{'*' if best else ''}</td>"
            + "".join(
                f'<td style="text-align:right;padding:2px 8px">{esc(format_value(r.get(c), c))}</td>' for c in columns
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    if footer:
        out.append(f'<div style="font-size:smaller">{esc(footer)}</div>')
    return "".join(out)


class Table:
    """A table of rows with an HTML rendering and a stable plain-text twin.

    >>> Table.from_dict({"accuracy": 0.9667, "f1": 0.9666}, key="metric")
      metric    value
      accuracy  0.9667
      f1        0.9666
    """

    def __init__(
        self,
        rows: Iterable[dict],
        columns: Sequence[str] | None = None,
        *,
        highlight=None,
        title: str | None = None,
        footer: str | None = None,
    ):
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns) if columns is not None else columns_of(self.rows)
        self.highlight, self.title, self.footer = highlight, title, footer

    @classmethod
    def from_dict(cls, d: dict, key: str = "name", value: str = "value", **kw) -> Table:
        """A two-column table from a dict (e.g. ``run.evaluate()``)."""
        return cls([{key: k, value: v} for k, v in d.items()], [key, value], **kw)

    def to_text(self) -> str:
        return text_table(self.rows, self.columns, highlight=self.highlight, title=self.title, footer=self.footer)

    def to_html(self) -> str:
        return html_table(self.rows, self.columns, highlight=self.highlight, title=self.title, footer=self.footer)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return self.to_text()

    __str__ = __repr__

    def bundle(self) -> dict:
        """The MIME bundle a notebook shows: HTML plus the text twin."""
        return {"text/plain": self.to_text(), "text/html": self.to_html()}


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
      1      0.9         0.8       0.01  0.5s
    * 2      0.5         0.6       0.01  0.25s
    * best epoch 2 (val_loss)
    """

    def __init__(
        self, rows: Iterable[dict], best: int | None = None, monitor: str | None = None, title: str | None = None
    ):
        rows = [dict(r) for r in rows]
        idx = next((i for i, r in enumerate(rows) if best is not None and r.get("epoch") == best), None)
        if monitor is None:
            monitor = "val_loss" if any("val_loss" in r for r in rows) else "train_loss"
        footer = f"* best epoch {best} ({monitor})" if idx is not None else None
        super().__init__(rows, metric_columns(rows), highlight=idx, title=title, footer=footer)
        self.best, self.monitor = best, monitor

    @classmethod
    def from_run(cls, run, rows: list | None = None) -> MetricTable:
        rows = history_rows(run) if rows is None else rows
        cfg = getattr(run, "config", None) or {}
        title = f"{run.name}: {run.status}, {len(rows)}/{cfg.get('epochs', len(rows))} epochs"
        monitor = cfg.get("monitor")
        if monitor and not any(monitor in r for r in rows):
            monitor = None
        return cls(rows, best=best_epoch(run, rows), monitor=monitor, title=title)


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
