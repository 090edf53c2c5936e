"""A sweep's panel: one status line and one Stop button for the whole sweep (ipywidgets).

The training panel updates its bars on every epoch; over a sweep of many short trials that is
thousands of widget messages, more than a headless client buffers while a cell runs.  This panel
sends a few per trial and at most one status update per ``min_interval`` seconds.  Its Stop button
works while the cell is busy (through :class:`~nbtrain.display.kernel_poll.LiveComms`, like the
training panel's): a click stops the current trial's run at the next batch and ends the sweep;
between two trials it ends the sweep before the next one starts.
"""

from __future__ import annotations

import html
import time

import ipywidgets as W

from ..core.events import Callback
from .kernel_poll import LiveComms


class _Box(W.VBox):
    def __init__(self, *args, title: str = "", **kw):
        super().__init__(*args, **kw)
        self._title = title

    def __repr__(self) -> str:  # the text twin saved in the notebook: stable
        return f"nbtrain sweep panel: {self._title}"


class SweepPanel(Callback):
    """Reused by every trial of one sweep (pass it in each trial's callbacks)."""

    def __init__(self, name: str, *, min_interval: float = 1.0, poll_interval: float = 0.05, clock=time.monotonic,
                 comm_mode: str | None = None):  # fmt: skip
        self.min_interval, self.poll_interval, self.clock, self.comm_mode = (
            min_interval,
            poll_interval,
            clock,
            comm_mode,
        )
        self.run = self.live = None
        self.stop_clicked = False
        self.label = ""
        self._next_draw = self._next_poll = 0.0
        self.title = W.HTML(value=f"<b>sweep {html.escape(name)}</b>")
        self.status = W.HTML(value="starting\u2026")
        self.button = W.Button(description="Stop", icon="stop", button_style="danger", layout=W.Layout(width="7em"),
                               tooltip="Stop the sweep: the current trial stops at the next batch")  # fmt: skip
        self.button.on_click(self._on_stop)
        self.button.add_class("nbtrain-stop")
        self.status.add_class("nbtrain-status")
        self.widget = _Box([self.title, W.HBox([self.button, self.status])], title=name)
        self.widget.add_class("nbtrain-sweep-panel")

    def _on_stop(self, _button=None) -> None:
        self.stop_clicked = True
        if self.run is not None and self.run.status in ("pending", "running"):
            self.run.request_stop("Stop button")
        self.button.description, self.button.disabled = "Stopping\u2026", True

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def show(self, text: str) -> None:
        """Set the status line (the observer calls this at trial boundaries)."""
        self.label = text
        self.status.value = html.escape(text)

    # ------------------------------------------------------------------ a trial's events
    def on_fit_start(self, run, **kw):
        self.run = run
        self.live = LiveComms([self.button], mode=self.comm_mode, min_interval=self.poll_interval, clock=self.clock)
        self.live.start()
        self._next_draw = self.clock() + self.min_interval

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        now = self.clock()
        if now >= self._next_poll:
            self._next_poll = now + self.poll_interval
            self.live.poll(force=True)
        if now >= self._next_draw:
            self._next_draw = now + self.min_interval
            epochs = run.config.get("epochs")
            self.status.value = html.escape(f"{self.label} \u00b7 epoch {epoch}/{epochs}, batch {batch}/{num_batches}")

    def on_fit_end(self, run, status, **kw):
        if self.live is not None:
            self.live.close()
            self.live = None

    def finish(self, text: str, stopped: bool) -> None:
        self.show(text)
        self.button.disabled = True
        self.button.description = "Stopped" if stopped else "Done"
        self.button.button_style = "warning" if stopped else ""
