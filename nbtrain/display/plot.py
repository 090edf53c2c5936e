"""The loss/metric plot of a run: a cheap live SVG chart while it trains, a matplotlib PNG at the end.

- Left panel: train and validation loss per epoch, plus the running training trace (a point every
  few percent of an epoch, :class:`~nbtrain.display.chart.Trace`, read through
  ``run.live.losses_since``: a host sync at most every ``sample_interval``).  Log scale when the
  losses span more than ``LOG_RATIO`` (:func:`~nbtrain.display.format.wants_log`).
- Right panel (when the run has validation metrics): the main validation metric; the best epoch
  (:func:`~nbtrain.display.format.best_of`) is marked on both.
- Live frames are SVG written by :mod:`~nbtrain.display.chart` (no matplotlib per frame, ~1 ms),
  throttled by :class:`~nbtrain.display.base.ThrottledView`: every ``min_interval`` (0.5 s) within
  ``budget`` (0.7%) of the wall time, trace reads within ``read_budget`` (0.25%).  The final figure
  is a bare ``matplotlib.figure.Figure`` on an
  Agg canvas (nothing touches pyplot's state), drawn from the same ``chart_data``, as PNG.
- One output slot, one display handle, updated in place (never ``clear_output``): its first
  version is a blank PNG with the plot's stable ``text/plain``, the live frames are SVG with the same
  text, the last is the final PNG with the same text.  nbval ignores updates and compares the first
  version with the saved last one: text equal, PNG skipped, so a re-executed notebook passes strict
  nbval whether or not the run was long enough for live frames (``docs/front-ends.md``).
"""

from __future__ import annotations

import base64
import io
import math
import time
from collections.abc import Callable

from .base import DisplaySink, ThrottledView, best_epoch, history_rows, main_metric
from .chart import Trace, chart_data, chart_svg
from .format import LOG_RATIO, finite, live_title, run_title, wants_log  # noqa: F401 (LOG_RATIO, finite, wants_log: re-exported)

#: what the slot of a run without a finished epoch ends as (front ends draw nothing)
EMPTY: dict = {}
#: a 1x1 transparent PNG: the slot's first version (nbval never compares PNG; the text beside it is stable)
BLANK_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII="


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


def to_png(fig, colors: int = 64) -> bytes:
    """The figure as a PNG of at most ``colors`` colours (a line chart needs no more): about a
    quarter of the bytes of a full-colour PNG, so a saved notebook stays small."""
    fig.canvas.draw()
    try:
        from PIL import Image  # matplotlib's own dependency

        w, h = fig.canvas.get_width_height()
        img = Image.frombuffer("RGBA", (w, h), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
        buf = io.BytesIO()
        img.quantize(colors).save(buf, format="png", optimize=True)
    except Exception:  # no Pillow, or a canvas without an RGBA buffer: the plain PNG
        buf = io.BytesIO()
        fig.canvas.print_png(buf)
    return buf.getvalue()


def draw(
    fig, rows: list, samples=(), metric: str | None = None, best: int | None = None, title: str | None = None
) -> dict:
    """Draw a run's curves on ``fig`` (made by :func:`new_figure`) from its history rows; ``samples``
    is the running trace (segments, or flat points).  Returns the :func:`~nbtrain.display.chart.chart_data`
    drawn: the live SVG chart draws the same data, so both look alike."""
    data = chart_data(rows, samples, metric, best, title)
    render(fig, data)
    return data


def render(fig, data: dict) -> None:
    """Draw :func:`~nbtrain.display.chart.chart_data` with matplotlib (one Line2D a series; a NaN
    between two segments keeps them apart, so no line joins two epochs)."""
    axes = fig.axes
    for ax in axes:
        ax.cla()
    for ax, p in zip(axes, data["panels"]):
        for s in p["series"]:
            xs, ys = [], []
            for seg in s["segments"]:
                if xs:
                    xs.append(math.nan)
                    ys.append(math.nan)
                xs += [x for x, _ in seg]
                ys += [y for _, y in seg]
            ax.plot(
                xs,
                ys,
                color=s["color"],
                alpha=s.get("alpha", 1.0),
                linewidth=s.get("width", 1.5),
                marker="o" if s.get("markers") else None,
                markersize=3,
                label=s["label"],
            )
        if p["log"]:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(p["ylabel"])
        if data["best"] is not None:
            ax.axvline(data["best"], color="gray", linestyle=":", linewidth=1)
        if p["legend"] and p["series"]:
            ax.legend(loc="upper right", fontsize="small", frameon=False)
        ax.grid(True, alpha=0.3)
        if data.get("integer_x"):  # integer epoch ticks on short runs
            ax.xaxis.get_major_locator().set_params(integer=True)
    if data.get("title"):
        fig.suptitle(data["title"], fontsize="medium")


def png_bundle(png: bytes, text: str | None = None) -> dict:
    bundle = {"image/png": base64.b64encode(png).decode("ascii")}
    if text is not None:
        bundle["text/plain"] = text
    return bundle


class LivePlot(ThrottledView):
    """Live loss and metric curves for a notebook.  A Callback: pass it in ``callbacks=`` or let
    ``display="notebook"`` add it.  ``sink`` receives the outputs (default: IPython display).

    One output slot for the whole run: shown at the start (a blank PNG and the plot's stable text),
    updated in place with SVG frames (:mod:`~nbtrain.display.chart`, ~1 ms each), and replaced at
    the end by the final matplotlib PNG with the same text.  nbval compares the slot's first
    version with the saved last one: both hold only the text (PNG is never compared)."""

    min_interval = 0.5
    #: live frames use at most 0.7% of wall time (and ``grace`` seconds in all: one frame slowed by a
    #: garbage collection or a busy machine must not stop the chart for seconds) ...
    budget = 0.007
    grace = 0.05
    #: ... and the reads of the running trace at most 0.25% (together under 1%)
    read_budget = 0.0025
    #: seconds of reads allowed on top of that share (one slow first read must not stop the trace)
    read_grace = 0.01
    first_after = 0.5
    #: a frame's cost before one is measured (an SVG frame: about a millisecond)
    first_cost = 0.002
    #: at most one read of the batch losses (a host sync) this often
    sample_interval = 0.25
    #: pixels of one panel of the live chart (the final figure: ``size`` inches at ``dpi``)
    chart_size = (368, 256)

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
        self.trace = Trace()
        self.handle = None  # the one output slot, shown at the start
        self.frames = 0  # live frames sent
        self.first_frame_at: float | None = None  # clock time of the first live frame
        self.final_time = 0.0  # seconds the final plot took
        self.final_data: dict | None = None  # what the final figure draws (chart_data)
        self.best = None
        self._text = None
        self._next_sample = 0.0
        self.read_time = 0.0  # seconds spent reading the running trace (host syncs)
        self._rows: list = []
        self._metric: str | None = None

    @property
    def samples(self) -> list:
        """The running trace's points, in order: (fractional epoch, loss)."""
        return self.trace.points()

    # ------------------------------------------------------------------ events
    def start(self, run):
        cfg = getattr(run, "config", None) or {}
        self.trace = Trace(cfg.get("epochs"))
        self.handle, self.frames, self.first_frame_at = None, 0, None
        self.final_data, self.best = None, None
        self._rows = history_rows(run)
        self._metric = self._planned_metric(run)
        self._text = None
        self._text = self.text(run)
        self._next_sample = self.clock() + self.sample_interval
        self.read_time = 0.0
        self.handle = self.sink.show({"image/png": BLANK_PNG, "text/plain": self._text}, handle=True)

    def _planned_metric(self, run):
        """The metric panel, known before the first epoch ends (from the config), so the slot's
        text is the same from its first version to its last."""
        if self._rows:
            return main_metric(run, self._rows)
        cfg = getattr(run, "config", None) or {}
        if not str(cfg.get("monitor") or "").startswith("val_") and not cfg.get("val"):
            return None
        names = list(cfg.get("metrics") or ())
        return f"val_{'r2' if 'r2' in names else names[0]}" if names else None

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        now = self.clock()
        if now >= self._next_sample:
            self._sample(run, epoch, num_batches, now)
        if now >= self._next:
            self._refresh(run)

    def _sample(self, run, epoch, num_batches, t0):
        self.trace.read(run.live, epoch, num_batches)  # a host sync, sample_interval apart at most
        d = max(0.0, self.clock() - t0)
        self.read_time += d
        share = self.read_budget / 2 if self.read_budget > 0 else 0.0
        self._next_sample = t0 + max(self.sample_interval, min(2.0, d / share) if share > 0 else math.inf)

    def on_epoch_end(self, run, epoch, logs, **kw):
        # the epoch's last batches are read (the epoch's end is a host sync already) unless the reads
        # have used their share: with epochs of a few milliseconds the trace then skips an epoch's tail
        t0 = self.clock()
        room = self.read_time <= self.read_budget * (t0 - self.t_start) + self.read_grace
        self.trace.end_epoch(run.live, epoch, max(1, int(run.live.num_batches or 1)), read=room)
        self.read_time += max(0.0, self.clock() - t0)
        super().on_epoch_end(run, epoch, logs, **kw)

    @property
    def live_time(self) -> float:
        """Seconds of live work: frames and trace reads (the final figure not included)."""
        return self.refresh_time + self.read_time

    def epoch_done(self, run, epoch, rows):
        self._rows = rows

    # ------------------------------------------------------------------ rendering
    def _data(self, run, title: str) -> dict:
        rows = self._rows
        self.best = best_epoch(run, rows) if rows else None
        metric = self._metric if self._metric is not None else main_metric(run, rows)
        return chart_data(rows, self.trace.segment_list(), metric, self.best, title)

    def refresh(self, run):
        if self.handle is None or (not self._rows and self.trace.total < 2):
            return False  # no live slot (outside a notebook), or nothing to draw yet
        svg = chart_svg(self._data(run, live_title(run)), self.chart_size)
        self.sink.update(self.handle, {"image/svg+xml": svg, "text/plain": self._text})
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = self.clock()

    def text(self, run) -> str:
        """The stable ``text/plain`` of the plot (the same in its first and last version)."""
        if self._text is not None:
            return self._text
        curves = ["train_loss"]
        cfg = getattr(run, "config", None) or {}
        if any("val_loss" in r for r in self._rows) or (
            not self._rows and (str(cfg.get("monitor") or "").startswith("val_") or cfg.get("val"))
        ):
            curves.append("val_loss")
        if self._metric:
            curves.append(self._metric)
        return f"<nbtrain plot of {run.name}: {', '.join(curves)}>"

    def finish(self, run, status, rows):
        self._rows = rows
        if not rows:  # nothing to draw: the slot ends empty
            if self.handle is not None:
                self.sink.update(self.handle, EMPTY)
            self._text = None
            return
        t0 = self.clock()
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401 (imported once, lazily)

        self._metric = main_metric(run, rows)
        fig = new_figure(2 if self._metric else 1, self.size, self.dpi)
        try:
            self.final_data = self._data(run, run_title(run, rows, status))
            render(fig, self.final_data)
            bundle = png_bundle(to_png(fig), self._text)
        finally:
            fig.clear()
        if self.handle is not None:
            self.sink.update(self.handle, bundle)  # the live slot becomes the final figure, in place
        else:
            self.sink.show(bundle)
        self.final_time = self.clock() - t0
        self._text = None

    def close(self):
        """Nothing to release: the final figure is made and cleared in ``finish``."""
