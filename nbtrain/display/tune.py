"""What tuning shows: the learning-rate finder's result, a sweep's live leaderboard and its final report.

In a notebook a sweep shows, while it runs: the leaderboard (an HTML table updated in place through
one display handle, at most once a second), one panel with a Stop button for the whole sweep
(``tune_panel.py``) and one slot for the current trial's live plot.  The leaderboard and the slot
start and end empty; the final report (the best trial, the table, the optimisation history and the
parameter importances) comes as new outputs with stable text.  So a headless run saves exactly the
final state, and strict nbval sees the same outputs on every run (it compares an updated output's
first version with the saved one).  In a terminal the sweep prints a line per finished trial and the
report as text.

>>> lr = nbtrain.lr_find(data, model="mlp(64)")     # an LRSuggestion: a float that shows its plot  # doctest: +SKIP
>>> nbtrain.train(data, model="mlp(64)", lr=lr)                                                     # doctest: +SKIP
"""

from __future__ import annotations

import base64
import math
import time

from ..core.tune.sweep import SweepObserver
from .base import DisplaySink
from .env import front_end, shell_kind
from .table import Table, format_value
from .tune_figures import history_figure, importance_figure, lr_figure, to_png

EMPTY: dict = {}
_RULES = {"minimum": "the smoothed loss's minimum / 10", "steepest": "steepest descent of the smoothed loss"}


def _png(fig, text: str) -> dict:
    return {"image/png": base64.b64encode(to_png(fig)).decode("ascii"), "text/plain": text}


class LRSuggestion(float):
    """The suggested learning rate: a float (``str()`` and ``repr()`` are the number, so ``lr=best`` and
    ``%%train --lr $best`` both work) that shows the finder's plot and, last, the line to use it.

    ``.finding`` holds the curve (``lrs``, ``losses``, ``smoothed``), ``.figure()`` draws it.
    """

    def __new__(cls, finding):
        obj = super().__new__(cls, finding.suggestion)
        obj.finding = finding
        return obj

    #: the last line of the finder's output (under its plot, and in its text)
    USE = "to use it: best = _ in the next cell, then %%train --lr $best (or lr = best in the cell)"

    def text(self) -> str:
        f = self.finding
        last = f.lrs[-1] if f.lrs else f.start_lr
        return (
            f"lr_find: suggested lr {float(self):.3g} ({_RULES.get(f.rule, f.rule)}); "
            f"{len(f.lrs)} steps from {f.start_lr:.3g} to {last:.3g}, {f.reason}\n{self.USE}"
        )

    def __repr__(self) -> str:
        return float.__repr__(float(self))

    __str__ = __repr__

    def __reduce__(self):  # pickles (and deep-copies) as the plain number
        return (float, (float(self),))

    def _repr_pretty_(self, p, cycle):
        # IPython's text/plain: its float printer would show only the number (repr); the output is the text
        p.text(self.text())

    def figure(self):
        return lr_figure(self.finding, title=f"lr_find: suggested lr {float(self):.3g}", caption=self.USE)

    def _repr_mimebundle_(self, include=None, exclude=None):
        if include is not None and "image/png" not in include:
            return {"text/plain": self.text()}
        return _png(self.figure(), self.text())


# ---------------------------------------------------------------------------- the leaderboard and the report
def _param_names(sweep, rows) -> list:
    names = list(sweep.spaces)
    for r in rows:
        names += [k for k in r.params if k not in names]
    return names


def leaderboard(sweep, rows=None, title: str | None = None) -> Table:
    """One row per trial: number, parameters, best metric, epochs, status, time and why it ended."""
    rows = sweep.rows() if rows is None else rows
    names = _param_names(sweep, rows)
    best = sweep.best
    data, highlight = [], None
    for r in rows:
        row = {"trial": r.number, **{n: r.params.get(n) for n in names}, sweep.metric: r.value}
        row["epochs"] = f"{r.epochs}/{r.max_epochs}" if r.max_epochs else str(r.epochs)
        row["status"] = r.status
        row["time"] = r.seconds
        row["note"] = (r.reason[:70] + "\u2026") if len(r.reason) > 71 else r.reason
        if best is not None and r.number == best.number:
            highlight = len(data)
        data.append(row)
    # time last: its width varies from run to run, and in the text twin nothing is aligned after it
    columns = ["trial", *names, sweep.metric, "epochs", "status"] + (["note"] if any(d["note"] for d in data) else [])
    columns.append("time")
    footer = f"* best trial ({sweep.direction} {sweep.metric})" if highlight is not None else None
    return Table(data, columns, highlight=highlight, title=title, footer=footer)


def best_line(sweep) -> str:
    b = sweep.best
    if b is None:
        return f"sweep {sweep.name}: {sweep.status}, no completed trial"
    params = ", ".join(f"{k}={format_value(v)}" for k, v in b.params.items())
    head = f"sweep {sweep.name}: {sweep.status}; best trial {b.number} ({b.run})"
    return f"{head}: {sweep.metric}={b.value:.4g} with {params}"


class _Figure:
    def __init__(self, figure, label: str):
        self.figure, self.label = figure, label

    def bundle(self) -> dict:
        return _png(self.figure, f"<Figure: {self.label}>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.bundle()

    def __repr__(self) -> str:
        return f"<Figure: {self.label}>"


class SweepReport:
    """The final state of a sweep: the best trial, the table, the optimisation history and the importances."""

    def __init__(self, sweep):
        rows = sweep.rows()
        self.table = leaderboard(sweep, rows, title=best_line(sweep))
        self.importances = sweep.importances()
        self.figures = []
        if any(r.value is not None and r.status in ("completed", "pruned") for r in rows):
            fig = history_figure(rows, sweep.metric, sweep.direction, title=f"{sweep.name}: optimisation history")
            self.figures.append(_Figure(fig, f"optimisation history of {sweep.name}"))
        if self.importances:
            fig = importance_figure(self.importances, title=f"{sweep.name}: parameter importances")
            self.figures.append(_Figure(fig, f"parameter importances of {sweep.name}"))

    def text(self) -> str:
        lines = [self.table.to_text()]
        if self.importances:
            lines.append("importances: " + ", ".join(f"{k} {v:.2f}" for k, v in self.importances.items()))
        return "\n".join(lines)

    __repr__ = text

    def _ipython_display_(self):
        from IPython.display import display

        display(self.table, *self.figures)


def report(sweep) -> SweepReport:
    """The final report of ``sweep`` (what the views show at its end), to show again."""
    return SweepReport(sweep)


# ---------------------------------------------------------------------------- the live views
class _SlotSink(DisplaySink):
    """Every output of a trial's views goes into one slot, updated in place: trials take turns in it."""

    def __init__(self, sink: DisplaySink, slot):
        self.sink, self.slot = sink, slot

    def show(self, bundle, metadata=None, handle=False):
        self.sink.update(self.slot, bundle, metadata)
        return self.slot

    def update(self, handle, bundle, metadata=None):
        self.sink.update(self.slot, bundle, metadata)


class NotebookSweepView(SweepObserver):
    """Leaderboard, one panel with a Stop button and the current trial's plot; then the report."""

    def __init__(self, sink: DisplaySink | None = None, *, panel: bool = True, plot: bool = True,
                 min_interval: float = 1.0, clock=time.monotonic):  # fmt: skip
        self.sink = sink or DisplaySink()
        self.want_panel, self.want_plot = panel, plot
        self.min_interval, self.clock = min_interval, clock
        self.panel = self.board = self.slot = None
        self._next = 0.0

    def start(self, sweep):
        self.board = self.sink.show(EMPTY, handle=True)
        if self.want_panel:
            try:
                from .tune_panel import SweepPanel
            except ImportError:  # no ipywidgets: the leaderboard and the plot still show
                SweepPanel = None
            if SweepPanel is not None:
                self.panel = SweepPanel(sweep.name)
                if shell_kind() == "notebook":
                    self.panel._ipython_display_()
        if self.want_plot:
            self.slot = self.sink.show(EMPTY, handle=True)

    def should_stop(self, sweep) -> bool:
        return self.panel is not None and self.panel.stop_clicked

    def trial_callbacks(self, sweep, number):
        views = [self.panel] if self.panel is not None else []
        if self.panel is not None:
            self.panel.show(f"trial {number}")
        if self.want_plot:
            from .notebook import notebook_views

            views += notebook_views(None, sink=_SlotSink(self.sink, self.slot), panel=False, table=False)
        return views

    def update(self, sweep):
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.min_interval
        title = f"sweep {sweep.name}: {sweep.direction} {sweep.metric} ({sweep.sampler} sampler)"
        self.sink.update(self.board, leaderboard(sweep, title=title).bundle())

    def finish(self, sweep):
        self.sink.update(self.board, EMPTY)
        if self.slot is not None:
            self.sink.update(self.slot, EMPTY)
        rep = report(sweep)
        if self.panel is not None:
            self.panel.finish(best_line(sweep), stopped=sweep.status == "stopped")
        self.sink.show(rep.table.bundle())
        for fig in rep.figures:
            self.sink.show(fig.bundle())


class ConsoleSweepView(SweepObserver):
    """A line per finished trial, then the report as text."""

    def __init__(self, write=print):
        self.write = write
        self.done: set = set()

    def start(self, sweep):
        self.write(f"sweep {sweep.name}: {sweep.sampler} sampler, {sweep.direction} {sweep.metric}")

    def update(self, sweep):
        for r in sweep.rows():
            if r.number in self.done or r.status in ("running", "waiting"):
                continue
            self.done.add(r.number)
            params = ", ".join(f"{k}={format_value(v)}" for k, v in r.params.items())
            value = "-" if r.value is None or not math.isfinite(r.value) else f"{r.value:.4g}"
            note = f" ({r.reason})" if r.reason else ""
            self.write(f"  trial {r.number} {r.status}: {sweep.metric} {value} with {params}{note}")

    def finish(self, sweep):
        self.update(sweep)
        self.write(report(sweep).text())


def sweep_view(display) -> SweepObserver | None:
    """The observer for ``display``: "auto", "notebook", "console" or "none"."""
    if display in (None, False, "none"):
        return None
    mode = front_end() if display == "auto" else display
    return NotebookSweepView() if mode == "notebook" else ConsoleSweepView()
