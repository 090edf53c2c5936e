"""Text output for terminals, scripts and logs: one line per epoch, a final status line."""
from __future__ import annotations

import sys
import time

from ..core.events import Callback


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


class ConsoleView(Callback):
    def __init__(self, stream=None, min_interval: float = 1.0, clock=time.monotonic):
        self.stream = stream
        self.min_interval, self.clock = min_interval, clock
        self._cols: list = []

    def _out(self):
        return self.stream or sys.stdout

    def on_fit_start(self, run, **kw):
        c = run.config
        print(f"[{run.name}] {c['model']} | loss {c['loss']} | {c['optimizer']} lr={c['lr']:g} | "
              f"{c['epochs']} epochs, batch {c['batch_size']} | {c['device']}", file=self._out())

    def on_epoch_end(self, run, epoch, logs, **kw):
        cols = [k for k in logs if k not in ("epoch",)]
        parts = [f"epoch {epoch}/{run.config['epochs']}"] + [f"{k} {_fmt(logs[k])}" for k in cols if k != "time"]
        parts.append(f"{logs.get('time', 0):.2f}s")
        print("  ".join(parts), file=self._out())

    def on_fit_end(self, run, status, **kw):
        msg = f"[{run.name}] {status}"
        if run.error:
            msg += f": {run.error}"
        elif run.note:
            msg += f" ({run.note})"
        print(msg, file=self._out())
