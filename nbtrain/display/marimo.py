"""nbtrain in marimo: the live plot, a status line and the final table as the running cell's output.

marimo has no IPython kernel, so ``IPython.display`` and ipywidgets do not reach the page.  A
:class:`MarimoSink` implements the notebook views' sink (``show`` / ``update``) with marimo's output
API instead: each shown bundle becomes one item of the cell's output (``mo.output.append``) and an
update replaces that item in place (``mo.output.replace_at_index``).  marimo streams these to the
page while the cell runs, in ``marimo edit`` and ``marimo run`` alike, and ``marimo export`` saves
the last state.  When the cell's last expression is a :class:`~nbtrain.Run`, marimo shows it instead:
:func:`summary_html` (status, the final plot as PNG, the metric table), registered with marimo's
formatter registry by :func:`register_formatter`.

Stopping: marimo's interrupt (the cell's stop button) raises KeyboardInterrupt in the cell, which the
loop turns into a clean stop at the next batch.  A Stop button of our own could not work: marimo
handles UI events only between cell runs.

>>> run = nbtrain.train(data, epochs=20)     # in a marimo cell: plot, status and table below it   # doctest: +SKIP
>>> run                                      # as the last expression: the rich summary            # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import sys

from ..core.run import Run
from .base import DisplaySink
from .console import ConsoleView

RED, GREEN, AMBER = "#c62828", "#2e7d32", "#b26a00"
_STATUS_STYLE = "font-family:var(--monospace-font, monospace);font-size:0.85rem;white-space:pre-wrap"


def bundle_html(bundle: dict) -> str:
    """The HTML marimo shows for a MIME bundle: its HTML, SVG or PNG, else its text; "" when empty."""
    if not bundle:
        return ""
    text = bundle.get("text/plain") or ""
    if bundle.get("text/html"):
        return bundle["text/html"]
    if bundle.get("image/svg+xml"):
        return bundle["image/svg+xml"]
    png = bundle.get("image/png")
    if png:
        if isinstance(png, bytes):
            png = base64.b64encode(png).decode("ascii")
        return f'<img src="data:image/png;base64,{png}" alt="{html.escape(text)}" style="max-width:100%">'
    return f"<pre>{html.escape(text)}</pre>" if text else ""


class MarimoSink(DisplaySink):
    """Show bundles as items of the running marimo cell's output; update them in place.

    ``show`` appends an item and returns its handle (its index in the cell's output); ``update``
    replaces the item at that index.  Outside a running marimo cell both do nothing."""

    def __init__(self):
        self.items = 0  # items this sink appended

    @staticmethod
    def _mo():
        return sys.modules.get("marimo")

    @staticmethod
    def _length():
        """How many items the cell's output holds now (marimo's runtime; None where that changed)."""
        try:
            from marimo._runtime.context import get_context

            return len(get_context().execution_context.output)
        except Exception:
            return None

    def show(self, bundle: dict, metadata: dict | None = None, handle: bool = False):
        mo = self._mo()
        if mo is None:
            return None
        idx = self._length()
        if idx is None:  # assume this sink's items are the cell's only ones
            idx = self.items
        mo.output.append(mo.Html(bundle_html(bundle)))
        self.items += 1
        return idx if handle else None

    def update(self, handle, bundle: dict, metadata: dict | None = None) -> None:
        mo = self._mo()
        if mo is None or handle is None:
            return
        mo.output.replace_at_index(mo.Html(bundle_html(bundle)), handle)


def _status_bundle(text: str, color: str | None = None) -> dict:
    style = _STATUS_STYLE + (f";color:{color}" if color else "")
    return {"text/plain": text, "text/html": f'<div class="nbtrain-status" style="{style}">{html.escape(text)}</div>'}


class MarimoStatus(ConsoleView):
    """One status line above the plot: the console view's progress line while training, then its
    closing line (status, epochs, time, best epoch, reason).  No per-epoch rows: the table has them."""

    refresh_on_epoch_end = True

    def __init__(self, sink: DisplaySink, **kw):
        super().__init__(stream=io.StringIO(), tty=False, **kw)
        self.sink = sink
        self.handle = None
        self.updates = 0

    def _set(self, bundle: dict) -> None:
        if self.handle is None:
            self.handle = self.sink.show(bundle, handle=True)
        else:
            self.sink.update(self.handle, bundle)
        self.updates += 1

    def start(self, run):
        c = run.config or {}
        self._epochs = c.get("epochs") or 0
        self._epoch_t0 = self.clock()
        lr = c.get("lr")
        lr = f" lr={lr:g}" if isinstance(lr, (int, float)) else ""
        self.handle = None
        self._set(
            _status_bundle(
                f"[{run.name}] {c.get('model')} | {c.get('optimizer')}{lr} | {self._epochs} epochs, "
                f"batch {c.get('batch_size')} | {c.get('device')} | starting (stop: marimo's interrupt)"
            )
        )

    def epoch_done(self, run, epoch, rows):
        pass  # the final table holds every row

    def refresh(self, run):
        if not run.live.num_batches:
            return False
        self._set(_status_bundle(self.progress_line(run)))

    def finish(self, run, status, rows):
        # the console view writes the last row and its closing line; keep the closing line
        self.stream = io.StringIO()
        super().finish(run, status, rows)
        text = self.stream.getvalue()
        head = f"[{run.name}] {status}:"
        line = text[text.rfind(head) :].strip() if head in text else f"[{run.name}] {status}"
        self._set(_status_bundle(line, {"completed": GREEN, "stopped": AMBER}.get(status, RED)))


def summary_html(run) -> str:
    """A run as HTML: a status line, its curves as a PNG and the metric table (what marimo shows for it)."""
    from .base import best_epoch, main_metric
    from .format import run_title
    from .plot import draw, new_figure, to_png
    from .table import MetricTable

    rows = [dict(r) for r in run.history]
    cfg = run.config or {}
    parts = [
        f'<div class="nbtrain-run"><b>{html.escape(run.name)}</b> &middot; {html.escape(run.status)} &middot; '
        f"{len(rows)}/{cfg.get('epochs', len(rows))} epochs &middot; {html.escape(str(cfg.get('model')))} &middot; "
        f"{html.escape(str(cfg.get('optimizer')))}</div>"
    ]
    if run.error:
        parts.append(f'<div style="color:{RED}">{html.escape(str(run.error))}</div>')
    elif run.note:
        parts.append(f"<div>{html.escape(run.note)}</div>")
    if rows:
        metric = main_metric(run, rows)
        fig = new_figure(2 if metric else 1)
        try:
            draw(fig, rows, metric=metric, best=best_epoch(run, rows), title=run_title(run, rows))
            png = base64.b64encode(to_png(fig)).decode("ascii")
        finally:
            fig.clear()
        parts.append(
            f'<img class="nbtrain-summary-plot" src="data:image/png;base64,{png}" alt="{html.escape(repr(run))}">'
        )
        parts.append(MetricTable.from_run(run, rows).to_html())
    return f'<div class="nbtrain-summary">{"".join(parts)}</div>'


_registered = False


def register_formatter() -> bool:
    """Have marimo show a :class:`~nbtrain.Run` (a cell's last expression) as :func:`summary_html`.

    Uses marimo's formatter registry (``marimo._output.formatting.formatter``, not a public module:
    guarded, and a plain ``repr`` stays where it is missing).  Returns whether it is registered."""
    global _registered
    if _registered:
        return True
    try:
        from marimo._output.formatting import formatter
    except Exception:
        return False

    def _format_run(run):
        try:
            return ("text/html", summary_html(run))
        except Exception:  # a summary that cannot be drawn must not hide the run
            return ("text/plain", repr(run))

    formatter(Run)(_format_run)
    _registered = True
    return True


def marimo_views(run, plot: bool = True) -> list:
    """The views for a marimo cell, in output order: status line, live plot, final plot and table."""
    from .notebook import notebook_views

    register_formatter()
    sink = MarimoSink()
    return [MarimoStatus(sink), *notebook_views(run, sink=sink, panel=False, plot=plot)]


if "marimo" in sys.modules:  # imported in a marimo session: Runs shown from now on get the summary
    register_formatter()
