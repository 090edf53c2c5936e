"""The progress panel (ipywidgets): epoch and batch bars, a status line and a Stop button.

The widgets are built once; afterwards only their values change, at most every ``min_interval``
seconds (never per batch).  The Stop button works while the cell is busy: its clicks reach the
kernel through :class:`~nbtrain.display.kernel_poll.LiveComms` and call
``run.request_stop("Stop button")``; the loop stops at the next batch boundary and keeps the model
and the finished epochs.  Where the kernel cannot deliver clicks mid-cell, the panel says to use
the kernel's interrupt (the loop turns KeyboardInterrupt into the same clean stop).

>>> view = PanelView(run)               # an nbtrain.Callback                      # doctest: +SKIP
>>> nbtrain.train(data, callbacks=[view], display="none")                         # doctest: +SKIP
>>> view.widget.get_state()            # what a front end would draw              # doctest: +SKIP
"""

from __future__ import annotations

import html
import time

import ipywidgets as W

from ..core.events import Callback
from ..core.finetune import params_text
from .format import best_of, duration, format_value, kept_note
from .kernel_poll import LiveComms
from .theme import badge

#: the panel's output: while the run goes, the widget (and a text/HTML twin that front ends without
#: widgets show); when it ends, the widget's display is replaced in place by a static record (HTML +
#: text, no widget mime) that renders without a kernel or saved widget state.  nbval compares an
#: output's first version with its saved last one: these rules make the two agree.
RECORD_SANITIZE = (
    (r"(?s)<!-- nbtrain record -->.*?<!-- /nbtrain record -->", "PANEL_RECORD"),
    (r"(nbtrain panel: \S+) \| [^\n]*", r"\1 | PANEL_RECORD"),
)
_RECORD_STYLE = "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px)"

HINT_LIVE = "Stop ends the run at the next batch; the model and finished epochs are kept."
HINT_INTERRUPT = (
    "This front end delivers clicks only when the cell ends: to stop now, use the kernel's "
    "interrupt (Kernel \u25b8 Interrupt, or \u25a0 / I,I). The model and finished epochs are kept."
)


class _Panel(W.VBox):
    """A VBox whose plain-text twin is short and stable (it is saved in notebooks and compared by nbval)."""

    def __init__(self, *args, title: str = "", **kw):
        super().__init__(*args, **kw)
        self._title = title

    def __repr__(self) -> str:
        return f"nbtrain panel: {self._title}"


def _num(v) -> str:
    return "?" if v is None else format_value(float(v))


class PanelView(Callback):
    """Progress bars, a status line (epoch, loss, rate, ETA, device) and a Stop button for one run.

    ``display=True`` shows the panel at ``on_fit_start``; with ``display=False`` show
    ``view.widget`` yourself.  ``clock`` and ``comm_mode`` are for tests.
    """

    def __init__(
        self,
        run=None,
        *,
        min_interval: float = 0.25,
        poll_interval: float = 0.05,
        display: bool = True,
        clock=time.monotonic,
        comm_mode: str | None = None,
    ):
        self.run = run
        self.min_interval, self.poll_interval = min_interval, poll_interval
        self.show, self.clock = display, clock
        self.comm_mode = comm_mode
        self.draws = 0
        self.stop_clicked_at: float | None = None
        self.stopped_at: float | None = None
        self.live: LiveComms | None = None
        self._next_draw = 0.0
        self._next_poll = 0.0
        self._t0 = None
        self._step0 = 0
        self.handle = None  # the display handle of the panel's output (display=True)
        self.record: dict | None = None  # the static bundle that replaced the widget at the end
        self._build()

    # ------------------------------------------------------------------ widgets, built once
    def _build(self) -> None:
        label = W.Layout(width="4.5em")
        bar = W.Layout(width="22em")
        self.title = W.HTML(value="")
        self.epoch_bar = W.IntProgress(value=0, min=0, max=1, layout=bar)
        self.epoch_text = W.Label(value="0/?")
        self.batch_bar = W.IntProgress(value=0, min=0, max=1, layout=bar)
        self.batch_text = W.Label(value="0/?")
        self.status = W.HTML(value="waiting to start")
        self.stop_button = W.Button(
            description="Stop",
            icon="stop",
            button_style="danger",
            tooltip="Stop at the next batch; keep the model and finished epochs",
            layout=W.Layout(width="7em"),
        )
        self.hint = W.HTML(value="")
        self.advice = W.HTML(value="")  # the loop's measured hints (Callback.on_hint), kept after the run
        self.stop_button.on_click(self._on_stop)
        rows = [
            self.title,
            W.HBox([W.Label("epoch", layout=label), self.epoch_bar, self.epoch_text]),
            W.HBox([W.Label("batch", layout=label), self.batch_bar, self.batch_text]),
            self.status,
            self.advice,
            W.HBox([self.stop_button, self.hint]),
        ]
        name = getattr(self.run, "name", None) or "run"
        self.widget = _Panel(rows, title=name)
        self.widget.add_class("nbtrain-panel")
        self.stop_button.add_class("nbtrain-stop")
        self.status.add_class("nbtrain-status")
        self.epoch_text.add_class("nbtrain-epochs")
        self.batch_text.add_class("nbtrain-batches")

    def _on_stop(self, _button=None) -> None:
        """Runs on a kernel subshell thread, inside a poll between batches, or after the cell."""
        if self.stop_clicked_at is None:
            self.stop_clicked_at = time.monotonic()
        run = self.run
        if run is None or run.status not in ("pending", "running"):
            return
        run.request_stop("Stop button")
        self.stop_button.description = "Stopping\u2026"
        self.stop_button.disabled = True

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _show(self, run) -> None:
        """Show the widget through a display handle, with a text/HTML twin for widget-less viewers."""
        from IPython.display import display

        bundle = dict(self.widget._repr_mimebundle_())
        name = html.escape(run.name)
        bundle["text/plain"] = f"nbtrain panel: {run.name} | training"
        bundle["text/html"] = (
            f'<div class="nbtrain-record" style="{_RECORD_STYLE}"><!-- nbtrain record --><b>{name}</b> &middot; '
            "training (the live panel needs a running kernel)<!-- /nbtrain record --></div>"
        )
        self.handle = display(bundle, raw=True, display_id=True)

    # ------------------------------------------------------------------ the static record
    def record_line(self, run, status) -> str:
        """``completed: 3/3 epochs in 0.4s · best val_loss 0.3127 (epoch 3)`` (plain text)."""
        n, planned = len(run.history), (run.config or {}).get("epochs", len(run.history))
        took = duration(sum(run.history.get("time", [])))
        head = f"stopped at epoch {run.live.epoch}" if status == "stopped" else status
        parts = [f"{head}: {n}/{planned} epochs in {took}"]
        best = best_of(run)
        if best is not None and best.value is not None:
            parts.append(f"best {best.monitor} {_num(best.value)} (epoch {best.epoch})")
        note = kept_note(run)
        if note:
            parts.append(note)
        if status == "failed":
            parts.append(str(run.error or "unknown error"))
        elif status == "stopped":
            parts.append(run.note or run._stop_reason or "stopped")
        elif run.note:
            parts.append(run.note)
        parts += [f"hint: {h}" for h in getattr(run, "hints", ())]
        return " \u00b7 ".join(parts)

    def record_bundle(self, run, status) -> dict:
        """The static HTML + text that replaces the widget when the run ends."""
        line = self.record_line(run, status)
        mark = {"completed": "\u2714", "stopped": "\u25a0"}.get(status, "\u2718")
        c = run.config or {}
        detail = html.escape(f"{c.get('model')} \u00b7 {c.get('optimizer')} \u00b7 {c.get('device')}")
        # the page's own text colour; the status is a badge with its own background (display/theme.py)
        body = f"<b>{html.escape(run.name)}</b> {badge(mark, status)} {html.escape(line)}<br><span>{detail}</span>"
        return {
            "text/plain": f"nbtrain panel: {run.name} | {line}",
            "text/html": (
                f'<div class="nbtrain-record" style="{_RECORD_STYLE}"><!-- nbtrain record -->{body}'
                "<!-- /nbtrain record --></div>"
            ),
        }

    # ------------------------------------------------------------------ events
    def on_fit_start(self, run, **kw):
        self.run = run
        self.widget._title = run.name
        c = run.config
        epochs = int(c.get("epochs") or 1)
        self.epoch_bar.max = max(1, epochs)
        start = len(run.history)
        self.epoch_bar.value = min(start, epochs)
        self.epoch_text.value = f"{start}/{epochs}"
        self.title.value = self.title_text(run)
        # a view reused for another run starts clean
        self.stop_clicked_at = self.stopped_at = None
        self.epoch_bar.bar_style = self.batch_bar.bar_style = ""
        self.stop_button.description, self.stop_button.disabled, self.stop_button.button_style = "Stop", False, "danger"
        self.status.value = "starting\u2026"
        self.advice.value = ""
        self._t0 = self.clock()
        self._step0 = run.live.step
        self.live = LiveComms(
            [self.stop_button], mode=self.comm_mode, min_interval=self.poll_interval, clock=self.clock
        )
        mode = self.live.start()
        self.hint.value = f"<small>{HINT_LIVE if mode != 'none' else HINT_INTERRUPT}</small>"
        self.handle = self.record = None
        if self.show:
            self._show(run)

    def title_text(self, run) -> str:
        """Name, model, optimizer and rate(s), batch, device, and the trainable / total parameters."""
        c = run.config
        groups = c.get("lr_groups")
        lr = c.get("lr")
        if isinstance(groups, dict) and len(groups) > 1:
            lr = " lr=" + " / ".join(f"{v:g}" for v in groups.values())
        else:
            lr = f" lr={lr:g}" if isinstance(lr, (int, float)) else ""
        params = params_text(c)
        return (
            f"<b>{html.escape(run.name)}</b> &middot; {html.escape(str(c.get('model')))} &middot; "
            f"{html.escape(str(c.get('optimizer')))}{html.escape(lr)} &middot; "
            f"batch {c.get('batch_size')} &middot; {html.escape(str(c.get('device')))}"
            + (f" &middot; {html.escape(params)}" if params else "")
        )

    def on_epoch_start(self, run, epoch, **kw):
        title = self.title_text(run)  # unfreeze_at= changes the trainable count at the start of an epoch
        if title != self.title.value:
            self.title.value = title

    # every counter (epoch bar, batch bar, status line) is drawn in one throttled frame (_draw), so
    # they agree at every frame: a long run of short epochs once showed the epoch bar at 166, the
    # status at 163 and the batch bar stuck at 0 (reset every epoch, drawn every few epochs)

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        # called on every step: two clock comparisons unless a poll or a redraw is due
        now = self.clock()
        if now >= self._next_poll:
            self._next_poll = now + self.poll_interval
            if self.live is not None:
                self.live.poll(force=True)
        if now >= self._next_draw:
            self._next_draw = now + self.min_interval
            self._draw(run, epoch, batch, num_batches, now)

    def on_hint(self, run, message, **kw):
        self.advice.value = f"{badge('hint:', 'hint')} {html.escape(message)}"

    def on_interrupt(self, run, reason, **kw):
        # the loop has stopped: say so at once (on_fit_end, after the other views, completes the panel)
        self.stopped_at = time.monotonic()
        self.status.value = self.final_text(run, "stopped")
        batch, nb = run.live.batch, max(1, run.live.num_batches or 1)
        self.batch_bar.value = min(batch, self.batch_bar.max)
        self.batch_text.value = f"{batch}/{nb}"

    def on_fit_end(self, run, status, **kw):
        try:
            self._final(run, status)
            if self.handle is not None:  # the output becomes a static record, in place
                self.record = self.record_bundle(run, status)
                self.handle.update(self.record, raw=True)
        finally:
            if self.live is not None:
                self.live.close()

    # ------------------------------------------------------------------ drawing
    def status_line(self, run, epoch, batch, num_batches, now) -> str:
        """Epoch, loss (a host sync: only called throttled), rate, ETA and device."""
        epochs = int(run.config.get("epochs") or 1)
        steps = run.live.step - self._step0
        elapsed = now - (self._t0 if self._t0 is not None else now)
        rate = steps / elapsed if elapsed > 0 and steps else None
        remaining = (epochs - epoch) * num_batches + (num_batches - batch)
        eta = remaining / rate if rate else None
        parts = [f"epoch {epoch}/{epochs}", f"loss {_num(run.live.loss())}"]
        last = run.history.last
        if "val_loss" in last:
            parts.append(f"val_loss {_num(last['val_loss'])}")
        parts += [f"{rate:.1f} it/s" if rate else "? it/s", f"ETA {duration(eta)}", str(run.config.get("device"))]
        return " &middot; ".join(html.escape(p) for p in parts)

    def _draw(self, run, epoch, batch, num_batches, now) -> None:
        self.draws += 1
        epochs, done = self.epoch_bar.max, len(run.history)  # finished epochs; the status names the current one
        self.epoch_bar.value = min(epochs, done)
        self.epoch_text.value = f"{done}/{epochs}"
        if self.batch_bar.max != num_batches:
            self.batch_bar.max = max(1, num_batches)
        self.batch_bar.value = batch
        self.batch_text.value = f"{batch}/{num_batches}"
        self.status.value = self.status_line(run, epoch, batch, num_batches, now)

    def final_text(self, run, status) -> str:
        n = len(run.history)
        secs = sum(run.history.get("time", []))
        took = duration(secs)
        if status == "completed":
            text = f"{badge(chr(0x2714), 'completed')} completed: {n} epoch{'s' * (n != 1)} in {took}"
            best = best_of(run)
            if best is not None:
                text += f" &middot; best {best.monitor} {_num(best.value)} (epoch {best.epoch})"
            note = kept_note(run)
            if note:
                text += f" &middot; {html.escape(note)}"
            if run.note:
                text += f" &middot; {html.escape(run.note)}"
            return f"<span>{text}</span>"
        if status == "stopped":
            reason = run.note or run._stop_reason or "stopped"
            text = (
                f"{badge(chr(0x25A0), 'stopped')} stopped at epoch {run.live.epoch} &middot; "
                f"{html.escape(reason)} &middot; {n} finished epoch{'s' * (n != 1)} kept"
            )
            return f"<span>{text}</span>"
        reason = run.error or "unknown error"
        return f"<span>{badge(chr(0x2718), 'failed')} <b>failed:</b> {html.escape(str(reason))}</span>"

    def _final(self, run, status) -> None:
        n = len(run.history)
        self.epoch_bar.value = min(self.epoch_bar.max, n)
        self.epoch_text.value = f"{n}/{self.epoch_bar.max}"
        style = {"completed": "success", "stopped": "warning", "failed": "danger"}.get(status, "")
        self.epoch_bar.bar_style = style
        self.batch_bar.bar_style = style
        if status == "completed":
            self.batch_bar.value = self.batch_bar.max
            self.batch_text.value = f"{self.batch_bar.max}/{self.batch_bar.max}"
        self.status.value = self.final_text(run, status)
        self.stop_button.disabled = True
        self.stop_button.description = {"completed": "Done", "stopped": "Stopped", "failed": "Failed"}.get(
            status, status
        )
        self.stop_button.button_style = (
            "" if status == "completed" else ("warning" if status == "stopped" else "danger")
        )
        self.hint.value = ""
