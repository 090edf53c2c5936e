"""The live loss/metric plot: one matplotlib figure, one display handle, throttled redraws.

- Left panel: train and validation loss per epoch, plus the running (smoothed) training loss
  within each epoch, sampled through ``run.live.loss()`` (a host sync: at most ``sample_interval``
  apart).  Log scale when the losses span more than ``LOG_RATIO``.
- Right panel (when the run has validation metrics): the main validation metric.
- Redraws are throttled by :class:`~nbtrain.display.base.ThrottledView`: at least
  ``min_interval`` apart and within ``budget`` (2%) of the wall time; with the final frame the
  plot stays within 3% of a run that lasts more than a few seconds (``benchmarks/display_overhead.py``).
- The figure is a bare ``matplotlib.figure.Figure`` on an Agg canvas: nothing touches pyplot's
  state, nothing is shown twice by the inline backend, and it is rendered to PNG only.
- In a notebook the live frames go to one display handle, updated in place (never
  ``clear_output``); live frames carry only ``image/png``.  At the end the handle is emptied
  (an empty bundle, which front ends render as nothing) and the final plot is shown as a new
  output with a stable ``text/plain``: whether or not a run was long enough for live frames,
  an executed notebook holds the same comparable outputs, so it stays valid under strict nbval
  (see ``shared/notes/jupyter-testing.md``).
"""

from __future__ import annotations

import base64
import io
import math
import time
from collections.abc import Callable

from .base import DisplaySink, ThrottledView, best_epoch, history_rows, main_metric
from .format import LOG_RATIO, finite, live_title, run_title, wants_log  # noqa: F401 (LOG_RATIO, wants_log: re-exported)

# The live slot holds only image/png (which nbval never compares) and ends as an empty bundle
# (which JupyterLab renders as nothing): whether a run had live frames or not, strict nbval sees
# the same outputs.
EMPTY: dict = {}


def new_figure(n_panels: int, size=(4.6, 3.2), dpi: int = 90):
    """A figure on an Agg canvas, outside pyplot (so it is never auto-shown or leaked)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * n_panels, size[1]), dpi=dpi)
    FigureCanvasAgg(fig)
    fig.subplots(1, n_panels, squeeze=False)
    # fixed margins: a layout engine would cost more than the drawing itself
    left = 0.15 / n_panels
    fig.subplots_adjust(left=left, right=0.985, bottom=0.16, top=0.88, wspace=0.25)
    return fig


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.canvas.print_png(buf)
    return buf.getvalue()


def draw(
    fig, rows: list, samples=(), metric: str | None = None, best: int | None = None, title: str | None = None
) -> None:
    """Draw a run's curves on ``fig`` (made by :func:`new_figure`) from its history rows."""
    axes = fig.axes
    for ax in axes:
        ax.cla()
    ax = axes[0]
    epochs = [r.get("epoch") for r in rows]
    many = len(rows) > 30
    style = dict(marker=None if many else "o", markersize=3)
    losses = []
    if samples:
        xs, ys = zip(*samples)
        ax.plot(xs, ys, color="tab:blue", alpha=0.35, linewidth=1, label="train (running)")
        losses += ys
    for key, color in (("train_loss", "tab:blue"), ("val_loss", "tab:orange")):
        ys = [r.get(key, math.nan) for r in rows]
        if finite(ys):
            ax.plot(epochs, ys, color=color, label=key.replace("_loss", ""), **style)
            losses += ys
    if wants_log(losses):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if best is not None:
        ax.axvline(best, color="gray", linestyle=":", linewidth=1)
    if losses:
        ax.legend(loc="upper right", fontsize="small", frameon=False)
    if metric is not None and len(axes) > 1:
        mx = axes[1]
        ys = [r.get(metric, math.nan) for r in rows]
        if finite(ys):
            mx.plot(epochs, ys, color="tab:green", **style)
        mx.set_xlabel("epoch")
        mx.set_ylabel(metric)
        if best is not None:
            mx.axvline(best, color="gray", linestyle=":", linewidth=1)
    for a in axes:
        a.grid(True, alpha=0.3)
        if len(rows) <= 12:  # integer epoch ticks on short runs
            a.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title, fontsize="medium")


def png_bundle(png: bytes, text: str | None = None) -> dict:
    bundle = {"image/png": base64.b64encode(png).decode("ascii")}
    if text is not None:
        bundle["text/plain"] = text
    return bundle


class LivePlot(ThrottledView):
    """Live loss and metric curves for a notebook.  A Callback: pass it in ``callbacks=`` or let
    ``display="notebook"`` add it.  ``sink`` receives the outputs (default: IPython display)."""

    min_interval = 1.0
    #: live frames use at most 2% of wall time, leaving room for the final frame within 3%
    budget = 0.02
    first_after = 1.0
    #: a frame's cost before one is measured: with the 2% budget, the first frame comes after ~5 s
    first_cost = 0.1
    #: at most one ``run.live.loss()`` host sync this often
    sample_interval = 0.25
    #: points of the running-loss curve kept (older ones are thinned out)
    max_samples = 4000

    def __init__(
        self,
        sink: DisplaySink | None = None,
        *,
        size=(4.6, 3.2),
        dpi: int = 80,
        min_interval: float | None = None,
        budget: float | None = None,
        first_after: float | None = None,
        sample_interval: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        super().__init__(min_interval=min_interval, budget=budget, first_after=first_after, clock=clock)
        self.sink = sink or DisplaySink()
        self.size, self.dpi = size, dpi
        if sample_interval is not None:
            self.sample_interval = float(sample_interval)
        self.samples: list = []  # (fractional epoch, running train loss)
        self.handle = None  # the live display handle, made at the first live frame
        self.fig = None
        self.frames = 0  # live frames sent
        self.final_time = 0.0  # seconds the final plot took
        self._next_sample = 0.0
        self._rows: list = []
        self._metric: str | None = None

    # ------------------------------------------------------------------ events
    def start(self, run):
        self.samples, self.handle, self.fig, self.frames = [], None, None, 0
        self._rows = history_rows(run)
        self._next_sample = self.clock() + self.sample_interval
        # import matplotlib now (once per session), so its cost never counts as a slow frame
        import matplotlib.backends.backend_agg
        import matplotlib.figure  # noqa: F401

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        now = self.clock()
        if now >= self._next_sample:
            self._sample(run, epoch, batch, num_batches, now)
        if now >= self._next:
            self._refresh(run)

    def _sample(self, run, epoch, batch, num_batches, t0):
        y = run.live.loss()  # host sync (throttled: sample_interval apart, and within half the budget)
        if y is not None and math.isfinite(y):
            self.samples.append((epoch - 1 + batch / max(num_batches, 1), y))
            if len(self.samples) > self.max_samples:  # long runs: keep every other point
                self.samples = self.samples[::2]
        d = max(0.0, self.clock() - t0)
        self.refresh_time += d
        self._next_sample = t0 + max(self.sample_interval, 2 * d / self.budget if self.budget > 0 else math.inf)

    def epoch_done(self, run, epoch, rows):
        self._rows = rows

    # ------------------------------------------------------------------ rendering
    def _render(self, run, title: str) -> bytes:
        rows = self._rows
        if self.fig is None:
            self._metric = main_metric(run, rows)
            self.fig = new_figure(2 if self._metric else 1, self.size, self.dpi)
        elif self._metric is None and main_metric(run, rows) is not None:
            self._metric = main_metric(run, rows)
            self.fig = new_figure(2, self.size, self.dpi)
        self.best = best_epoch(run, rows) if rows else None
        draw(self.fig, rows, self.samples, self._metric, self.best, title)
        return to_png(self.fig)

    def refresh(self, run):
        if not self._rows and len(self.samples) < 2:
            return False
        title = live_title(run)
        bundle = png_bundle(self._render(run, title))  # no text: see EMPTY
        if self.handle is None:
            self.handle = self.sink.show(bundle, handle=True)
        else:
            self.sink.update(self.handle, bundle)
        self.frames += 1

    def text(self, run) -> str:
        """The stable ``text/plain`` of the final plot."""
        curves = [k for k in ("train_loss", "val_loss") if any(k in r for r in self._rows)]
        if self._metric:
            curves.append(self._metric)
        return f"<nbtrain plot of {run.name}: {', '.join(curves)}>"

    def finish(self, run, status, rows):
        self._rows = rows
        if self.handle is not None:  # the live slot ends empty: nbval compares its first and last text
            self.sink.update(self.handle, EMPTY)
        if rows:
            t0 = self.clock()
            title = run_title(run, rows, status)
            self.sink.show(png_bundle(self._render(run, title), self.text(run)))
            self.final_time = self.clock() - t0
        self.close()

    def close(self):
        """Release the figure (it was never registered with pyplot)."""
        if self.fig is not None:
            self.fig.clear()
            self.fig = None
