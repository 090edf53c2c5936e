"""A run's live views inside a widget that is already on the page (for Voilà, and dashboards).

Voilà sends a cell's outputs to the page only when the cell has finished (in both of its modes:
``voila/notebook_renderer.py`` and ``voila/tornado/execution_request_handler.py`` wait for
``execute_cell`` before sending a cell), so a long ``nbtrain.train`` cell shows nothing of its run
until the run is over.  What does reach the page while a cell runs is widget *state*: with
``--progressive_rendering=True`` the page is connected to the kernel from the start, and every
change of a widget shown by an earlier, finished cell is drawn at once.  A :class:`LiveArea` is such
a widget: show it in one cell, train in the next with ``callbacks=[area]``, and the panel (with its
working Stop button), the live plot and the final plot and table appear inside it as the run goes.

>>> area = LiveArea()        # a cell of its own: Voilà shows it when that cell ends      # doctest: +SKIP
>>> area                                                                                  # doctest: +SKIP
>>> run = nbtrain.train(data, epochs=50, display="none", callbacks=[area])   # next cell  # doctest: +SKIP

In a ``%%train`` cell: ``callbacks = [area]`` with ``%%train --quiet``.  It works in any Jupyter
front end (the outputs are widgets, not display messages); it is only needed where a cell's outputs
wait for its end.
"""

from __future__ import annotations

import ipywidgets as W

from ..core.events import Callback
from .base import DisplaySink
from .marimo import bundle_html


class WidgetSink(DisplaySink):
    """Shows each bundle as a child of ``box`` (an ``ipywidgets.HTML``); updates set its value."""

    def __init__(self, box: W.Box):
        self.box = box

    def show(self, bundle: dict, metadata: dict | None = None, handle: bool = False):
        child = W.HTML(value=bundle_html(bundle))
        self.box.children = (*self.box.children, child)
        return child if handle else None

    def update(self, handle, bundle: dict, metadata: dict | None = None) -> None:
        if handle is not None:
            handle.value = bundle_html(bundle)


class LiveArea(Callback):
    """A box (``area.box``) that holds the live views of the runs given ``callbacks=[area]``.

    Each run replaces what the box held: the progress panel with its Stop button, the live plot,
    then the final plot and metric table.  ``plot=False`` leaves out the plot."""

    def __init__(self, plot: bool = True):
        self.plot = plot
        self.box = W.VBox()
        self.box.add_class("nbtrain-live-area")
        self.views: list = []

    def __repr__(self) -> str:  # the text twin saved in notebooks
        return "nbtrain live area"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)

    # ------------------------------------------------------------------ events, passed on to the views
    def on_fit_start(self, run, **kw):
        from .notebook import notebook_views
        from .panel import PanelView

        panel = PanelView(run, display=False)
        self.box.children = (panel.widget,)
        self.views = [panel, *notebook_views(run, sink=WidgetSink(self.box), panel=False, plot=self.plot)]
        for v in self.views:
            v.on_fit_start(run, **kw)

    def on_epoch_start(self, run, epoch, **kw):
        for v in self.views:
            v.on_epoch_start(run, epoch, **kw)

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        for v in self.views:
            v.on_batch_end(run, epoch, batch, num_batches, **kw)

    def on_epoch_end(self, run, epoch, logs, **kw):
        for v in self.views:
            v.on_epoch_end(run, epoch, logs, **kw)

    def on_interrupt(self, run, reason, **kw):
        for v in self.views:
            v.on_interrupt(run, reason, **kw)

    def on_fit_end(self, run, status, **kw):
        for v in self.views:
            v.on_fit_end(run, status, **kw)
