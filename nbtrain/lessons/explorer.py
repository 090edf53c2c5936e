"""The panel every lesson uses: controls, a figure and a summary table that redraw on change."""

from __future__ import annotations

import html
import io
import time
from collections.abc import Callable

import ipywidgets as widgets


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is not shown, nothing to close)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


class Summary:
    """Rows of (label, value) shown as a small HTML table, with the same text as plain text.

    The plain text is what nbval compares: keep values rounded and deterministic."""

    def __init__(self, rows, title: str = ""):
        self.rows = [(str(k), str(v)) for k, v in (rows.items() if isinstance(rows, dict) else rows)]
        self.title = title

    def _repr_html_(self):
        head = f"<b>{html.escape(self.title)}</b>" if self.title else ""
        body = "".join(
            f"<tr><td style='text-align:left'>{html.escape(k)}</td>"
            f"<td style='text-align:right'>{html.escape(v)}</td></tr>"
            for k, v in self.rows
        )
        return f"<div class='nbtrain-explore-summary'>{head}<table>{body}</table></div>"

    def __repr__(self):
        width = max((len(k) for k, _ in self.rows), default=0)
        lines = [self.title] if self.title else []
        lines += [f"{k:<{width}}  {v}" for k, v in self.rows]
        return "\n".join(lines)


class _Box(widgets.VBox):
    """The controls; its plain text (what nbval compares) names the panel instead of listing every
    widget's traits, which change with ipywidgets' version."""

    def __init__(self, *args, title: str = "", **kw):
        super().__init__(*args, **kw)
        self._title = title

    def __repr__(self) -> str:
        return f"nbtrain explore panel: {self._title}"


class Explorer:
    """``controls`` (name -> widget) and ``render(**values) -> (figure, Summary)``.

    Shown in a notebook, it displays the controls, then the figure (PNG) and the summary as
    outputs with display ids; moving a control calls ``render`` again and replaces both.
    ``explorer.update(name=value)`` does what moving a control does (for code and tests)."""

    def __init__(self, controls: dict, render: Callable, title: str = ""):
        self.controls = dict(controls)
        self.render = render
        self.title = title
        self.seconds = None  # how long the last redraw took
        self.last = None  # the last Summary
        self._handles = None
        self.box = _Box(
            ([widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []) + list(self.controls.values()),
            title=title,
        )
        self.box.add_class("nbtrain-explore")
        for w in self.controls.values():
            w.observe(self._changed, names="value")

    def values(self) -> dict:
        return {k: w.value for k, w in self.controls.items()}

    def draw(self):
        """``(png bytes, Summary)`` for the controls' current values."""
        t0 = time.perf_counter()
        try:
            fig, summary = self.render(**self.values())
            png = figure_png(fig) if fig is not None else None
        except Exception as exc:  # shown where the user looks, not in the front end's log
            png, summary = None, Summary([("error", f"{type(exc).__name__}: {exc}")])
        self.seconds = time.perf_counter() - t0
        self.last = summary
        return png, summary

    def _outputs(self):
        from IPython.display import Image

        png, summary = self.draw()
        return (Image(data=png, format="png") if png is not None else ""), summary

    def _ipython_display_(self):
        from IPython.display import display

        image, summary = self._outputs()
        display(self.box)
        self._handles = (display(image, display_id=True), display(summary, display_id=True))

    def _changed(self, change=None):
        if self._handles is None:
            self.draw()
            return
        image, summary = self._outputs()
        self._handles[0].update(image)
        self._handles[1].update(summary)

    def update(self, **values):
        for k, v in values.items():
            self.controls[k].value = v
        return self.last
