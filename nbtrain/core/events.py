"""Training events.

Hooks are named ``on_<scope>_<start|end>``, take keyword arguments plus ``**kwargs`` and do
nothing by default, so a callback overrides only what it needs and new event fields never
break old callbacks.  Numbers reach callbacks as plain Python floats: the loop converts them
once, at epoch end.  During an epoch, ``run.live`` holds the live counters; reading its loss
(``run.live.loss()``) is a host sync, so views call it throttled, never per batch.

>>> class Printer(Callback):
...     def on_epoch_end(self, run, epoch, logs, **kwargs):
...         print(epoch, logs["train_loss"])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Callback:
    """Base class with no-op hooks.  Override any of them."""

    def on_fit_start(self, run, **kwargs: Any) -> None:
        """Training is about to start; ``run.config`` and ``run.history`` (when resuming) are set."""

    def on_epoch_start(self, run, epoch: int, **kwargs: Any) -> None:
        """Epoch ``epoch`` (1-based) starts."""

    def on_batch_end(self, run, epoch: int, batch: int, num_batches: int, **kwargs: Any) -> None:
        """Batch ``batch`` (1-based) of ``num_batches`` finished.  Called on every step: keep it cheap."""

    def on_epoch_end(self, run, epoch: int, logs: dict, **kwargs: Any) -> None:
        """Epoch finished; ``logs`` is the new history row (plain floats)."""

    def on_fit_end(self, run, status: str, **kwargs: Any) -> None:
        """Training ended with ``status`` ("completed", "stopped" or "failed"); see ``run.error``."""

    def on_interrupt(self, run, reason: str, **kwargs: Any) -> None:
        """A stop request or a KeyboardInterrupt was honoured at a batch boundary."""

    def on_evaluate(self, run, on: str, metrics: dict, **kwargs: Any) -> None:
        """``run.evaluate(on=...)`` computed ``metrics`` (plain floats), after training ended; only
        callbacks that override this hook are kept by the run to hear it (loggers do)."""

    def on_hint(self, run, message: str, **kwargs: Any) -> None:
        """A measured suggestion, at most once per kind and run (e.g. "more DataLoader workers would
        help"); also in ``run.hints``.  Where no callback shows hints, it is a ``HintWarning``."""


class HintWarning(UserWarning):
    """A hint of the training loop that no view showed (``Callback.on_hint``)."""


def _overrides(cb: Callback, hook: str) -> bool:
    impl = getattr(type(cb), hook, None)
    return impl is not None and impl is not getattr(Callback, hook)


def to_float(value: Any) -> float:
    """Turn a tensor, numpy scalar or number into a plain float (a host sync for device tensors)."""
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


class CallbackList:
    """Dispatches events to callbacks.  Errors in a callback propagate: they are bugs to see."""

    def __init__(self, callbacks: Iterable[Callback] = ()):
        self.callbacks = list(callbacks)
        # the per-batch hook is hot: only call callbacks that implement it
        self._batch = [cb.on_batch_end for cb in self.callbacks if _overrides(cb, "on_batch_end")]

    def append(self, cb: Callback) -> None:
        self.callbacks.append(cb)
        if _overrides(cb, "on_batch_end"):
            self._batch.append(cb.on_batch_end)

    def on_fit_start(self, run, **kw):
        # the run tells these of its evaluations after training (Run.evaluate): only those that listen
        listening = getattr(run, "listeners", None)
        if listening is not None:
            listening.extend(cb for cb in self.callbacks if _overrides(cb, "on_evaluate") and cb not in listening)
        for cb in self.callbacks:
            cb.on_fit_start(run, **kw)

    def on_epoch_start(self, run, epoch, **kw):
        for cb in self.callbacks:
            cb.on_epoch_start(run, epoch=epoch, **kw)

    def on_batch_end(self, run, epoch, batch, num_batches):
        for hook in self._batch:
            hook(run, epoch=epoch, batch=batch, num_batches=num_batches)

    @staticmethod
    def floats(logs: dict) -> dict:
        """The row as plain floats: the one place tensors become numbers."""
        return {k: (v if isinstance(v, float) else to_float(v)) for k, v in logs.items()}

    def on_epoch_end(self, run, epoch, logs, **kw):
        logs = self.floats(logs)
        for cb in self.callbacks:
            cb.on_epoch_end(run, epoch=epoch, logs=logs, **kw)
        return logs

    def on_fit_end(self, run, status, **kw):
        for cb in self.callbacks:
            cb.on_fit_end(run, status=status, **kw)

    def on_interrupt(self, run, reason, **kw):
        for cb in self.callbacks:
            cb.on_interrupt(run, reason=reason, **kw)

    def on_hint(self, run, message, **kw):
        run.hints.append(message)
        shown = [cb for cb in self.callbacks if _overrides(cb, "on_hint")]
        for cb in shown:
            cb.on_hint(run, message=message, **kw)
        if not shown:
            import warnings

            warnings.warn(message, HintWarning, stacklevel=2)
