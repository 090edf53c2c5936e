"""Text output for terminal IPython, scripts and logs: a progress line and an epoch table.

- On a TTY a one-line progress bar is rewritten in place with ``\\r`` (throttled, at most every
  ``min_interval`` seconds); elsewhere (pipes, log files) there is no progress line at all.
- Each epoch adds a row to an aligned table (header once).  Long runs print a row at most every
  ``row_interval`` seconds (and always the first and last), so logs do not flood.
- At the end, one status line: completed / stopped / failed, with the reason and the best epoch.
No widgets, no images: just text.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from .base import ThrottledView
from .format import best_of, duration, format_value, kept_note
from .table import metric_columns


class ConsoleView(ThrottledView):
    """Compact text progress for terminals and logs.

    >>> import io
    >>> view = ConsoleView(stream=io.StringIO())   # a non-TTY stream: no ``\\r`` progress line
    """

    min_interval = 0.5
    budget = 0.02
    first_after = 0.5
    #: print every epoch row when the run has at most this many epochs
    max_rows = 30
    #: otherwise, at most one row this often (plus the first and the last)
    row_interval = 2.0
    bar_width = 20
    refresh_on_epoch_end = False  # the epoch's row says it all; no progress line after it

    def __init__(
        self,
        stream=None,
        min_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        tty: bool | None = None,
        max_rows: int | None = None,
        row_interval: float | None = None,
    ):
        super().__init__(min_interval=min_interval, clock=clock)
        self.stream = stream
        self._tty = tty
        if max_rows is not None:
            self.max_rows = int(max_rows)
        if row_interval is not None:
            self.row_interval = float(row_interval)
        self._columns: list | None = None
        self._widths: list = []
        self._line_len = 0  # length of the progress line on screen (0: none)
        self._last_row_t = -float("inf")
        self._printed_epoch = None
        self._epoch_t0 = 0.0
        self._epochs = 0

    # ------------------------------------------------------------------ output
    def _out(self):
        return self.stream or sys.stdout

    @property
    def tty(self) -> bool:
        if self._tty is not None:
            return self._tty
        try:
            return bool(self._out().isatty())
        except (AttributeError, ValueError):
            return False

    def _print(self, text: str) -> None:
        self._clear_line()
        print(text, file=self._out(), flush=True)

    def _clear_line(self) -> None:
        if self._line_len:
            self._out().write("\r" + " " * self._line_len + "\r")
            self._line_len = 0

    # ------------------------------------------------------------------ hooks
    def start(self, run):
        c = run.config or {}
        lr = c.get("lr")
        lr = f" lr={lr:g}" if isinstance(lr, (int, float)) else ""
        self._epochs = c.get("epochs") or 0
        self._columns, self._printed_epoch, self._line_len = None, None, 0
        self._last_row_t = -float("inf")
        self._epoch_t0 = self.clock()
        self._print(
            f"[{run.name}] {c.get('model')} | loss {c.get('loss')} | {c.get('optimizer')}{lr} | "
            f"{self._epochs} epochs, batch {c.get('batch_size')} | {c.get('device')}"
        )

    def on_epoch_start(self, run, epoch, **kw):
        self._epoch_t0 = self.clock()

    def on_hint(self, run, message, **kw):
        self._print(f"[{run.name}] hint: {message}")

    def progress_line(self, run) -> str:
        """``epoch 3/10 [######----------]  40/100  loss 0.4321  120 it/s  ETA 12s``"""
        live = run.live
        nb = max(live.num_batches, 1)
        done = int(self.bar_width * live.batch / nb)
        bar = "#" * done + "-" * (self.bar_width - done)
        elapsed = self.clock() - self._epoch_t0
        rate = live.batch / elapsed if elapsed > 0 else 0.0
        parts = [f"epoch {live.epoch}/{self._epochs} [{bar}] {live.batch}/{nb}"]
        loss = live.loss()  # host sync: this runs throttled
        if loss is not None:
            parts.append(f"loss {loss:.4g}")
        if rate > 0:
            left = (nb - live.batch) + max(0, self._epochs - live.epoch) * nb
            parts += [f"{rate:.3g} it/s", f"ETA {duration(left / rate)}"]
        return "  ".join(parts)

    def refresh(self, run):
        if not self.tty or not run.live.num_batches:
            return
        line = self.progress_line(run)
        pad = max(0, self._line_len - len(line))
        self._out().write("\r" + line + " " * pad)
        self._out().flush()
        self._line_len = len(line)

    def _row(self, row: dict) -> str:
        return "  ".join(format_value(row.get(c), c).rjust(w) for c, w in zip(self._columns, self._widths))

    def epoch_done(self, run, epoch, rows):
        now = self.clock()
        last = epoch >= self._epochs
        if not (
            self._epochs <= self.max_rows
            or self._printed_epoch is None
            or last
            or now - self._last_row_t >= self.row_interval
        ):
            return
        self._print_row(rows[-1])
        self._last_row_t = now

    def _print_row(self, row: dict) -> None:
        if self._columns is None:
            self._columns = metric_columns([row])
            self._widths = [max(len(c), 9 if c not in ("epoch",) else 5) for c in self._columns]
            self._print("  ".join(c.rjust(w) for c, w in zip(self._columns, self._widths)))
        self._print(self._row(row))
        self._printed_epoch = row.get("epoch")

    def finish(self, run, status, rows):
        self._clear_line()
        if rows and rows[-1].get("epoch") != self._printed_epoch:
            self._print_row(rows[-1])
        total = sum(r.get("time", 0.0) for r in rows)
        msg = f"[{run.name}] {status}: {len(rows)}/{self._epochs} epochs in {duration(total)}"
        best = best_of(run, rows) if rows else None
        if best is not None:
            msg += f"; best epoch {best.epoch} ({best.monitor} {format_value(best.value)})"
        note = kept_note(run, rows) if rows else None
        if note:
            msg += f"; {note}"
        if run.error:
            msg += f"\n  error: {run.error}"
        elif run.note:
            msg += f" ({run.note})"
        self._print(msg)
