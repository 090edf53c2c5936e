"""Everything a person sees.  Views are callbacks that redraw from ``run.history``.

Which views a front end gets (``display="auto"``; see ``docs/front-ends.md``):

- a Jupyter kernel (JupyterLab, Notebook 7, VS Code, Colab, Voilà, nbclient): the widget panel with
  its Stop button, the live plot and the final plot and table (``notebook_views``);
- marimo: a status line, the live plot and the final plot and table as the cell's output
  (``marimo_views``); no widget panel (marimo stops a cell with its own interrupt);
- anything else (terminal IPython, scripts, logs): text (``ConsoleView``).
"""

from __future__ import annotations

from ..core.events import Callback

#: what the panel says under its Stop button in VS Code, where clicks during a busy cell are not
#: known to arrive (microsoft/vscode-jupyter#17360); the kernel interrupt always works
HINT_VSCODE = (
    "Stop ends the run at the next batch if VS Code delivers the click while the cell runs; "
    "otherwise use VS Code's Interrupt (\u25a0 in the notebook toolbar). The model and finished epochs are kept."
)


class _HostHint(Callback):
    """Rewrites the panel's hint for front ends where the Stop button may not get through mid-cell."""

    def __init__(self, panel, hint: str):
        self.panel, self.hint = panel, hint

    def on_fit_start(self, run, **kw):  # after the panel's own on_fit_start, which sets its hint
        live = getattr(self.panel, "live", None)
        if live is not None and live.mode != "none":
            self.panel.hint.value = f"<small>{self.hint}</small>"


def views_for(display, run, plot: bool = True) -> list:
    """The views for a display mode: "auto", "notebook", "console" or "none".

    ``plot=False`` leaves out the loss plot (``%%train --no-plot``): the panel and the table stay.
    Under marimo, "auto" and "notebook" both give marimo's views (there is no IPython display there).
    """
    from .env import front_end, host, in_marimo

    if display in (None, False, "none"):
        return []
    mode = front_end() if display == "auto" else display
    if mode == "marimo" or (mode == "notebook" and in_marimo()):
        from .marimo import marimo_views

        return marimo_views(run, plot=plot)
    if mode == "notebook":
        from .notebook import notebook_views

        views = notebook_views(run, plot=plot)
        if host() == "vscode":
            panel = next((v for v in views if hasattr(v, "stop_button")), None)
            if panel is not None:
                views.insert(views.index(panel) + 1, _HostHint(panel, HINT_VSCODE))
        return views
    from .console import ConsoleView

    return [ConsoleView()]


def __getattr__(name):  # LiveArea imports ipywidgets: only when asked for
    if name == "LiveArea":
        from .live_area import LiveArea

        return LiveArea
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
