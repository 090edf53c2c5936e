"""One base, thin renderers: a view that throttles its redraws by wall time and drawing cost.

A :class:`ThrottledView` is a :class:`~nbtrain.Callback`; it subscribes to the loop's events,
decides *when* to redraw and keeps the cost of drawing under a fraction of the run's wall
time.  Renderers (live plot, console line, ...) override a few hooks:

- ``start(run)``        once, at ``on_fit_start``
- ``refresh(run)``      redraw from ``run.history`` / ``run.live`` (called throttled)
- ``epoch_done(run, epoch, rows)``  every epoch end (must be cheap; default: nothing)
- ``finish(run, status, rows)``     once, at ``on_fit_end`` (the final state)

Throttling: a refresh is allowed when ``min_interval`` seconds have passed since the last one
*and* the time spent refreshing so far, plus the cost of one more refresh (the cheapest of the last
few), stays within ``budget`` of the wall time since the run started, plus ``grace`` seconds.  So
however slow drawing is, live refreshes never take more than ``budget`` of the run (and ``grace``),
and one slow refresh (a garbage collection, a busy machine) neither sets the estimate nor stops the
view for seconds.  The clock is injected, so tests drive time by hand:

>>> t = [0.0]
>>> view = ThrottledView(min_interval=1.0, clock=lambda: t[0])
>>> view.due()
False
>>> t[0] = 1.5; view.due()
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from ..core.events import Callback


def history_rows(run, logs: dict | None = None) -> list:
    """The run's history rows, plus ``logs`` when the loop has not appended it yet.

    (The engine appends the row before ``on_epoch_end``; a relayed or replayed run may not have.)
    """
    rows = [dict(r) for r in run.history]
    if logs is not None and (not rows or rows[-1].get("epoch") != logs.get("epoch")):
        rows.append(dict(logs))
    return rows


def best_epoch(run, rows: list) -> int | None:
    """The epoch to mark as best (see :func:`nbtrain.display.format.best_of`)."""
    from .format import best_of

    best = best_of(run, rows)
    return None if best is None else best.epoch


def main_metric(run, rows: list) -> str | None:
    """The validation metric worth a panel of its own: r2 for regression, else the first metric."""
    names = list((getattr(run, "config", None) or {}).get("metrics") or ())
    if "r2" in names:
        names.remove("r2")
        names.insert(0, "r2")
    keys = set().union(*rows) if rows else set()
    for m in names:
        if f"val_{m}" in keys:
            return f"val_{m}"
    return next((k for k in sorted(keys) if k.startswith("val_") and k != "val_loss"), None)


def finite(values) -> list:
    from .format import finite as _finite

    return _finite(values)


class ThrottledView(Callback):
    """Base for every view: throttled refreshes with a cost budget and an injected clock."""

    #: seconds between refreshes at least
    min_interval: float = 1.0
    #: the share of wall time that live refreshes may use, counted from the start of the run
    budget: float = 0.03
    #: no live refresh before the run is this old (a short run shows only its final state)
    first_after: float = 1.0
    #: what one refresh is assumed to cost before the first one has been measured (seconds)
    first_cost: float = 0.0
    #: seconds of refreshes allowed on top of the ``budget`` share over the whole run
    grace: float = 0.0
    #: the next refresh is expected to cost the least of this many last ones (a slow one is an outlier)
    cost_window: int = 5
    #: whether an epoch end may trigger a (throttled) refresh, not only batch ends
    refresh_on_epoch_end: bool = True
    #: the last refresh cost measured with a real clock by a view of this class (this session);
    #: a new run's first refresh is scheduled with it instead of the ``first_cost`` guess
    learned_cost: float | None = None

    def __init__(
        self,
        min_interval: float | None = None,
        budget: float | None = None,
        first_after: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        if min_interval is not None:
            self.min_interval = float(min_interval)
        if budget is not None:
            self.budget = float(budget)
        if first_after is not None:
            self.first_after = float(first_after)
        self.clock = clock
        self._reset()

    def _reset(self) -> None:
        self.t_start = self.clock()
        self.refreshes = 0  # how many live refreshes ran
        self.refresh_time = 0.0  # seconds spent in them (by ``clock``)
        self._costs: list[float] = []  # the last ``cost_window`` refresh costs
        self._schedule(None)

    # ------------------------------------------------------------------ throttle
    def _schedule(self, last_start: float | None) -> None:
        """The next refresh: ``min_interval`` after the last one, and late enough that the time
        spent so far plus one more refresh stays within ``budget`` of the wall time (and ``grace``)."""
        if self._costs:
            est = min(self._costs)
        elif self.learned_cost is not None and self._real_clock():
            est = self.learned_cost
        else:
            est = self.first_cost
        spend = max(0.0, self.refresh_time + est - self.grace)
        by_budget = self.t_start + spend / self.budget if self.budget > 0 else math.inf
        if last_start is None:
            by_interval = self.t_start + max(self.first_after, self.min_interval)
        else:
            by_interval = last_start + self.min_interval
        self._next = max(by_budget, by_interval)

    @property
    def _cost(self) -> float | None:
        """The last refresh's cost (None before the first)."""
        return self._costs[-1] if self._costs else None

    def _real_clock(self) -> bool:
        return self.clock in (time.perf_counter, time.monotonic)

    def due(self) -> bool:
        """Whether a refresh may run now."""
        return self.clock() >= self._next

    def _refresh(self, run) -> None:
        t0 = self.clock()
        if self.refresh(run) is False:  # nothing to show yet: try again at a later batch
            return
        d = max(0.0, self.clock() - t0)
        self.refreshes += 1
        self.refresh_time += d
        self._costs = [*self._costs, d][-self.cost_window :]
        if self._real_clock():  # never learn from (or for) a test's hand clock
            type(self).learned_cost = d
        self._schedule(t0)

    def overhead(self) -> float:
        """Share of wall time since the start spent in live refreshes."""
        wall = self.clock() - self.t_start
        return self.refresh_time / wall if wall > 0 else 0.0

    # ------------------------------------------------------------------ events
    def on_fit_start(self, run, **kw):
        self._reset()
        self.start(run)

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        # hot path: one clock read and a comparison per batch
        if self.clock() >= self._next:
            self._refresh(run)

    def on_epoch_end(self, run, epoch, logs, **kw):
        self._rows = history_rows(run, logs)
        self.epoch_done(run, epoch, self._rows)
        if self.refresh_on_epoch_end and self.clock() >= self._next:
            self._refresh(run)

    def on_fit_end(self, run, status, **kw):
        self.finish(run, status, history_rows(run))

    # ------------------------------------------------------------------ renderer hooks
    def start(self, run) -> None:
        """Training starts."""

    def refresh(self, run):
        """Redraw the live state (throttled).  Return ``False`` when there was nothing to draw."""

    def epoch_done(self, run, epoch: int, rows: list) -> None:
        """An epoch ended; ``rows`` is the history including it.  Keep it cheap."""

    def finish(self, run, status: str, rows: list) -> None:
        """Training ended: show the final state."""


class DisplaySink:
    """Where notebook views send output: ``show`` a MIME bundle (optionally as an updatable
    handle) and ``update`` that handle in place.  This one uses IPython's display machinery in a
    Jupyter kernel; elsewhere (``display="notebook"`` forced in a script or terminal) it prints the
    non-empty text twins only, and live updates are skipped."""

    def show(self, bundle: dict, metadata: dict | None = None, handle: bool = False):
        from .env import shell_kind

        if shell_kind() != "notebook":
            if handle:  # a live slot means nothing in text: the final output is shown anew
                return None
            if bundle.get("text/plain"):
                print(bundle["text/plain"])
            return None
        from IPython.display import display

        return display(bundle, raw=True, metadata=metadata or {}, display_id=True if handle else None)

    def update(self, handle, bundle: dict, metadata: dict | None = None) -> None:
        if handle is not None:
            handle.update(bundle, raw=True, metadata=metadata or {})


class RecordingSink(DisplaySink):
    """A sink that records instead of displaying (tests and benchmarks).

    ``calls`` holds ``("show", handle_id_or_None, bundle)`` and ``("update", handle_id, bundle)``.
    """

    def __init__(self):
        self.calls: list = []
        self._n = 0

    def show(self, bundle, metadata=None, handle=False):
        hid = None
        if handle:
            self._n += 1
            hid = f"h{self._n}"
        self.calls.append(("show", hid, dict(bundle)))
        return hid

    def update(self, handle, bundle, metadata=None):
        self.calls.append(("update", handle, dict(bundle)))

    def final_outputs(self) -> list:
        """The outputs as a notebook would save them: each handle's last bundle, in display order."""
        outs, where = [], {}
        for kind, hid, bundle in self.calls:
            if kind == "show":
                if hid is not None:
                    where[hid] = len(outs)
                outs.append(bundle)
            else:
                outs[where[hid]] = bundle
        return outs
