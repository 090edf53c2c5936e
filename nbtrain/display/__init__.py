"""Everything a person sees.  Views are callbacks that redraw from ``run.history``."""

from __future__ import annotations


def views_for(display, run, plot: bool = True) -> list:
    """The views for a display mode: "auto", "notebook", "console" or "none".

    ``plot=False`` leaves out the loss plot (``%%train --no-plot``): the panel and the table stay.
    """
    from .env import front_end

    if display in (None, False, "none"):
        return []
    mode = front_end() if display == "auto" else display
    if mode == "notebook":
        from .notebook import notebook_views

        return notebook_views(run, plot=plot)
    from .console import ConsoleView

    return [ConsoleView()]
