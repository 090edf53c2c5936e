"""A one-line progress report for work that may take a while (permutation importance, attributions).

Nothing is written for work done within ``after`` seconds; after that one line on stderr is rewritten
in place (``\\r``) at most ``every`` seconds, and ended with its total time.  Plain text on stderr
shows in a terminal and in a notebook (as the cell's stderr stream) alike, and needs no widget.

>>> t = Ticker("importance of 4 columns", total=21)      # doctest: +SKIP
>>> for i in range(21): t(i + 1)                         # doctest: +SKIP
>>> t.done()                                             # doctest: +SKIP
"""

from __future__ import annotations

import sys
import time

from .errors import ConfigError


def ticker(progress, label: str, total: int):
    """``progress=True``: a :class:`Ticker`; False: nothing is written (a notebook checked by nbval, where a
    line that shows only on a slow machine would differ); a callable: called as ``progress(done, total)``."""
    if callable(progress):
        return Ticker(label, total, callback=progress)
    if progress is True or progress is False:
        return Ticker(label, total, after=float("inf") if not progress else 1.0)
    raise ConfigError(f"progress must be True, False or a callable(done, total); got {progress!r}.")


class Ticker:
    def __init__(
        self, label: str, total: int, after: float = 1.0, every: float = 0.25, stream=None, clock=None, callback=None
    ):
        self.label, self.total, self.after, self.every = label, max(1, int(total)), after, every
        self.callback = callback
        self.stream, self.clock = stream, clock or time.perf_counter
        self.start = self.clock()
        self.count, self._shown, self._last, self._width = 0, False, -1.0, 0

    def __call__(self, done: int) -> None:
        self.count = done
        if self.callback is not None:
            self.callback(done, self.total)
            return
        now = self.clock()
        if now - self.start < self.after or now - self._last < self.every:
            return
        text = f"{self.label}: {done}/{self.total} ({done / self.total:.0%}), {now - self.start:.1f} s"
        self._width = max(self._width, len(text))
        self._write("\r" + text)
        self._shown, self._last = True, now

    def done(self) -> None:
        """End the line (only where one was written)."""
        if self._shown:
            elapsed = self.clock() - self.start
            text = f"{self.label}: {self.count}/{self.total} in {elapsed:.1f} s"
            self._write(f"\r{text:<{self._width}}\n")  # padded over the longer progress text before it
            self._shown = False

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(text)
        stream.flush()
