"""Every number, duration, run title and table the views show, written once.

Every view (panel, live chart, final plot, metric table, console, ``%evaluate`` / ``%runs`` /
``%compare``, the tuning views, marimo) formats through this module, so that one run reads the same
everywhere: 4 significant digits, durations as ``34 ms`` / ``1.3 s`` / ``2 min 5 s`` (one sanitize rule
covers them), the same run title, the same log-scale rule and the same best epoch.

>>> format_value(0.912345), format_value(0.034, "time"), duration(75)
('0.9123', '34 ms', '1 min 15 s')
>>> print(Table([{"name": "a", "acc": 0.91234}, {"name": "b", "acc": 0.8}], highlight=0))
  name  acc
* a     0.9123
  b     0.8
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

MISSING = "-"
#: the nbval sanitize regex for the only varying text in training tables (durations, see :func:`duration`)
TIME_SANITIZE = r"(\d+ (h|min) )*\d+(\.\d+)? ?(s|ms|µs|us|min|h)\b"
#: max/min of the losses above which a loss axis is logarithmic (every chart and figure)
LOG_RATIO = 30.0


# ---------------------------------------------------------------------------- numbers and durations
def format_value(value, key: str | None = None) -> str:
    """A short, stable string for a cell: 4 significant digits, times as ``0.123s``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if key is not None and (key == "time" or key.endswith("_time")) and isinstance(value, (int, float)):
        return MISSING if isinstance(value, float) and math.isnan(value) else duration(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if key == "epoch" and value.is_integer():
            return str(int(value))
        if key == "lr":
            return f"{value:.3g}"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    try:  # numpy scalars and 0-d tensors
        return format_value(value.item(), key)
    except (AttributeError, ValueError):
        return str(value)


def duration(seconds: float | None) -> str:
    """The one rule for durations, everywhere: ``0.4 ms``, ``20 ms``, ``1.3 s``, ``42 s``, ``2 min 5 s``,
    ``1 h 2 min``; ``?`` when unknown.  Never e-notation, so one sanitize regex covers them.

    >>> [duration(s) for s in (0.0197, 1.25, 42.4, 125, 3725)]
    ['20 ms', '1.2 s', '42 s', '2 min 5 s', '1 h 2 min']
    """
    if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "?"
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0.0, float(seconds))
    ms = seconds * 1000
    if ms < 9.95:
        return f"{ms:.1f} ms" if ms >= 0.05 else "0 ms"
    if round(ms) < 1000:
        return f"{ms:.0f} ms"
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    if round(seconds) < 60:
        return f"{seconds:.0f} s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m} min {s} s" if s else f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m} min" if m else f"{h} h"


def finite(values) -> list:
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def wants_log(values) -> bool:
    """Whether losses span enough orders of magnitude for a log axis (all must be positive)."""
    vals = finite(values)
    if len(vals) < 2 or min(vals) <= 0:
        return False
    return max(vals) / min(vals) >= LOG_RATIO


# ---------------------------------------------------------------------------- titles and the best epoch
def planned_epochs(run, done: int | None = None):
    cfg = getattr(run, "config", None) or {}
    return cfg.get("epochs", done if done is not None else "?")


def run_title(run, rows: Sequence, status: str | None = None) -> str:
    """``r1: completed, 5/5 epochs`` (the final plot, the metric table and the panel's record)."""
    status = status or getattr(run, "status", "")
    return f"{run.name}: {status}, {len(rows)}/{planned_epochs(run, len(rows))} epochs"


def live_title(run) -> str:
    """``r1`` (the live chart): no epoch counter, since the chart redraws less often than the panel's
    bars and status line, whose counters it would contradict; its x axis shows the epochs drawn."""
    return str(run.name)


def best_of(run, rows: Sequence | None = None):
    """The run's best epoch as a :class:`~nbtrain.core.history.Best` (or None): the one early
    stopping kept, else the best value of the run's ``monitor``.  Every view asks here."""
    from ..core.history import run_best

    return run_best(run, rows)


def kept_note(run, rows: Sequence | None = None) -> str | None:
    """When the model's weights are not the best epoch's, one sentence saying so and how to keep the
    best; None when they are (or nothing has finished).

    The record, the console's last line and the metric table's footer carry it.
    """
    from ..core.history import kept_epoch

    rows = [dict(r) for r in run.history] if rows is None else rows
    best = best_of(run, rows)
    kept = kept_epoch(run, rows)
    if best is None or kept is None or kept == best.epoch:
        return None
    return (
        f"the model holds epoch {kept}'s weights, not the best epoch's ({best.epoch}); "
        "to keep the best, train with --patience N or --restore-best (restore_best=True)"
    )


# ---------------------------------------------------------------------------- tables
def columns_of(rows: Sequence[dict]) -> list:
    """The keys of ``rows`` in first-seen order."""
    seen: dict = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def _marked(highlight) -> set:
    if highlight is None:
        return set()
    if isinstance(highlight, int):
        return {highlight}
    return set(highlight)


def text_table(
    rows: Sequence[dict],
    columns: Sequence[str] | None = None,
    *,
    highlight=None,
    title: str | None = None,
    footer: str | None = None,
) -> str:
    """Rows of dicts as aligned plain text; highlighted rows (an index or several) start with ``*``."""
    columns = list(columns) if columns is not None else columns_of(rows)
    marked = _marked(highlight)
    cells = [[format_value(r.get(c), c) for c in columns] for r in rows]
    widths = [max([len(str(c))] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lead = "  " if marked else ""
    lines = [] if not title else [title]
    lines.append((lead + "  ".join(str(c).ljust(w) for c, w in zip(columns, widths))).rstrip())
    for i, row in enumerate(cells):
        mark = ("* " if i in marked else "  ") if marked else ""
        lines.append((mark + "  ".join(v.ljust(w) for v, w in zip(row, widths))).rstrip())
    if footer:
        lines.append(footer)
    return "\n".join(lines)


_STYLE = (
    "border-collapse:collapse;white-space:nowrap;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px)"
)
_BEST = ' style="font-weight:bold;background-color:rgba(80,160,80,0.18)"'


def _align(value) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool) or hasattr(value, "item")
    return "right" if number else "left"


def html_table(
    rows: Sequence[dict],
    columns: Sequence[str] | None = None,
    *,
    highlight=None,
    title: str | None = None,
    footer: str | None = None,
) -> str:
    """Rows of dicts as an HTML table (escaped); highlighted rows are bold and marked ``*``."""
    columns = list(columns) if columns is not None else columns_of(rows)
    marked = _marked(highlight)
    esc = html.escape
    # per-cell attributes rather than styles: a 60-epoch table stays ~10 KB in a saved notebook
    out = [f'<table class="nbtrain-table" cellpadding="3" style="{_STYLE}">']
    if title:
        # nowrap: a two-column table is narrow, and a caption wraps to the table's width
        out.append(f'<caption style="text-align:left;font-weight:bold;white-space:nowrap">{esc(title)}</caption>')
    out.append(
        "<thead><tr>"
        + ("<th></th>" if marked else "")
        + "".join(f'<th align="right">{esc(str(c))}</th>' for c in columns)
        + "</tr></thead>"
    )
    out.append("<tbody>")
    for i, r in enumerate(rows):
        best = i in marked
        out.append(
            f"<tr{_BEST if best else ''}>"
            + (f"<td>{'*' if best else ''}</td>" if marked else "")
            + "".join(f'<td align="{_align(r.get(c))}">{esc(format_value(r.get(c), c))}</td>' for c in columns)
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

    @classmethod
    def from_lists(cls, columns: Sequence, rows: Iterable[Sequence], **kw) -> Table:
        """A table from a header and rows of cells (lists)."""
        columns = [str(c) for c in columns]
        return cls([dict(zip(columns, r)) for r in rows], columns, **kw)

    def to_text(self) -> str:
        return text_table(self.rows, self.columns, highlight=self.highlight, title=self.title, footer=self.footer)

    def to_html(self) -> str:
        return html_table(self.rows, self.columns, highlight=self.highlight, title=self.title, footer=self.footer)

    text = to_text

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return self.to_text()

    __str__ = __repr__

    def bundle(self) -> dict:
        """The MIME bundle a notebook shows: HTML plus the text twin."""
        return {"text/plain": self.to_text(), "text/html": self.to_html()}

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.bundle()
