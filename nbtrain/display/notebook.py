"""The notebook views: progress panel, live plot and the final metric table.

In a live notebook the panel and the plot update in place while training runs; at the end the
plot's live slot is emptied (an empty bundle: nothing is drawn, nothing is compared) and the final
plot and table are shown as new outputs with a stable ``text/plain``.  Headless runs (nbclient,
``nbconvert --execute``) therefore save exactly the final state, and the saved notebook passes
strict nbval with a sanitize rule for times (``format.TIME_SANITIZE``).
"""

from __future__ import annotations

from .base import DisplaySink


def notebook_views(
    run, sink: DisplaySink | None = None, *, panel: bool = True, plot: bool = True, table: bool = True
) -> list:
    """The Callback views for a notebook, in display order: panel, live plot, final table."""
    views = []
    if panel:
        try:
            from .panel import PanelView
        except ImportError:  # the widget panel is optional: without it the plot and table still show
            PanelView = None
        if PanelView is not None:
            views.append(PanelView(run))
    if plot:
        from .plot import LivePlot

        views.append(LivePlot(sink=sink))
    if table:
        from .table import TableView

        views.append(TableView(sink=sink))
    return views
