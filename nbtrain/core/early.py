"""Kept weights and early stopping: the NaN guard's snapshot and the best epoch's weights.

A run keeps **one** copy of its weights, in buffers allocated once and overwritten in place:

- with ``patience``: the best epoch's weights (what early stopping restores at the end, and what a
  NaN loss or an out-of-memory error falls back to);
- without: the last finished epoch's weights (what the NaN guard and the out-of-memory handler
  restore).

On a CUDA device the copy lives in pinned host memory, written with an asynchronous copy (no host
sync, no extra device memory); on the CPU it is one extra copy in RAM.  Nothing else clones the
``state_dict`` during training.
"""

from __future__ import annotations

import math
import sys

import torch

COMPILED_PREFIX = "_orig_mod."  # what torch.compile's wrapper puts before every state_dict key


def clean_keys(state: dict) -> dict:
    """Keys of the original module: strip ``_orig_mod.`` that a compiled module's ``state_dict`` has."""
    return {k.removeprefix(COMPILED_PREFIX): v for k, v in state.items()}


class Snapshot:
    """A copy of a module's parameters and buffers, in buffers allocated at the first capture.

    >>> snap = Snapshot(model)        # doctest: +SKIP
    >>> snap.capture(model)           # copies in place, asynchronously on CUDA
    >>> snap.restore(model)           # the weights come back in place
    """

    def __init__(self, module: torch.nn.Module | None = None):
        self._bufs: dict[str, torch.Tensor] = {}
        self._event = None  # the CUDA event after the last capture: host reads wait for it
        if module is not None:
            self._allocate(module)

    @staticmethod
    def _tensors(module) -> dict:
        """The module's own tensors by state_dict key, tied weights (one tensor, two keys) once."""
        seen, out = set(), {}
        for k, t in module.state_dict(keep_vars=True).items():
            if isinstance(t, torch.Tensor) and id(t) not in seen:
                seen.add(id(t))
                out[k] = t
        return out

    def _allocate(self, module) -> None:
        for k, t in self._tensors(module).items():
            self._bufs[k] = _host_like(t)

    @property
    def nbytes(self) -> int:
        """Bytes this snapshot holds (one copy of the weights)."""
        return sum(b.numel() * b.element_size() for b in self._bufs.values())

    @property
    def on_device(self) -> bool:
        """True when the copy takes accelerator memory (CUDA copies go to pinned host memory instead)."""
        return any(b.device.type != "cpu" for b in self._bufs.values())

    @torch.no_grad()
    def capture(self, module) -> None:
        if not self._bufs:
            self._allocate(module)
        cuda = False
        for k, t in self._tensors(module).items():
            buf = self._bufs[k]
            asynchronous = t.is_cuda and buf.is_pinned()
            buf.copy_(t.detach(), non_blocking=asynchronous)
            cuda |= t.is_cuda
        self._event = None
        if cuda:
            self._event = torch.cuda.Event()
            self._event.record()

    @torch.no_grad()
    def restore(self, module) -> None:
        """Copy the kept weights back into ``module``'s own tensors (stream-ordered after the capture)."""
        for k, t in self._tensors(module).items():
            buf = self._bufs[k]
            t.copy_(buf, non_blocking=t.is_cuda and buf.is_pinned())

    def state_dict(self) -> dict:
        """The kept weights as host tensors, for a checkpoint (waits for an asynchronous capture)."""
        if self._event is not None:
            self._event.synchronize()  # a host sync, once per checkpoint
        return dict(self._bufs)

    @classmethod
    def from_state(cls, state: dict, like: torch.nn.Module) -> Snapshot:
        """A snapshot holding ``state`` (a checkpoint's weights), shaped for ``like``'s device."""
        snap = cls(like)
        state = clean_keys(state)
        missing = [k for k in snap._bufs if k not in state]
        if missing:
            raise KeyError(f"the kept weights have no {missing[0]!r}")
        for k, buf in snap._bufs.items():
            buf.copy_(state[k])
        return snap


def _host_like(t: torch.Tensor) -> torch.Tensor:
    """Where a copy of ``t`` goes: pinned host memory for CUDA tensors (no device memory, async copies)."""
    if t.is_cuda:
        try:
            return torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
        except RuntimeError:  # pinned memory exhausted: pageable host memory (the copy then waits)
            pass
    return torch.empty(t.shape, dtype=t.dtype, device="cpu")


class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs; keep the best epoch's weights.

    >>> es = EarlyStopping(patience=2, monitor="val_loss")
    >>> es.update({"val_loss": 0.5}, epoch=1), es.update({"val_loss": 0.7}, epoch=2)
    (True, False)
    >>> es.best_value, es.best_epoch, es.bad_epochs, es.should_stop
    (0.5, 1, 1, False)

    ``state`` (a :class:`Snapshot`) holds the best weights; ``state_dict()`` / ``load_state_dict()``
    carry the whole state through a checkpoint.
    """

    def __init__(self, patience: int, monitor: str = "val_loss", higher: bool = False):
        self.patience, self.monitor, self.higher = int(patience), monitor, bool(higher)
        self._best = math.inf  # lower is better here: the monitored value, negated when higher is better
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.state: Snapshot | None = None

    @property
    def best_value(self) -> float | None:
        """The monitored value of the best epoch, or None before the first epoch."""
        if self._best == math.inf:
            return None
        return -self._best if self.higher else self._best

    def value_of(self, logs: dict) -> float:
        """The monitored value in a history row (``train_loss`` when the column is missing)."""
        return logs[self.monitor] if self.monitor in logs else logs["train_loss"]

    def update(self, logs: dict, epoch: int) -> bool:
        """Record an epoch's row; True when it is the best so far (a NaN never is)."""
        value = self.value_of(logs)
        key = -value if self.higher else value
        if key < self._best:
            self._best, self.best_epoch, self.bad_epochs = key, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    @property
    def reason(self) -> str:
        return f"early stopping: no improvement of {self.monitor} for {self.patience} epochs"

    def state_dict(self) -> dict:
        """For a checkpoint: the best weights (host tensors), the best value and the counters."""
        return {
            "state": self.state.state_dict() if self.state is not None and self.best_epoch is not None else None,
            "value": float(self._best),
            "bad": int(self.bad_epochs),
            "epoch": self.best_epoch,
        }

    def load_state_dict(self, state: dict, like: torch.nn.Module | None = None) -> None:
        """From a checkpoint; the weights go into a :class:`Snapshot` shaped for ``like``."""
        self._best, self.bad_epochs = float(state["value"]), int(state["bad"])
        self.best_epoch = state.get("epoch")
        if state.get("state") is not None and like is not None:
            self.state = Snapshot.from_state(state["state"], like)


def keep_best(run, job, restore_best) -> tuple:
    """``restore_best=True``: keep the best epoch's weights (by the run's monitor) and restore them at
    the end, as ``patience`` does, without stopping early.  Returns ``(run, job)``."""
    from .errors import ConfigError

    if not isinstance(restore_best, bool):
        raise ConfigError(f"restore_best must be True or False, got {restore_best!r:.80}.")
    if restore_best:
        run.config["restore_best"] = True
        if job.early is None:  # with patience the best weights are kept already
            job.early = EarlyStopping(sys.maxsize, job.monitor, job.monitor_higher)
    return run, job
