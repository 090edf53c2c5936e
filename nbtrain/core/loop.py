"""``fit``: one run in this process, on the one training engine (``core/engine.py``), and what its
failures mean.

Batch losses stay on the device; the host reads the epoch's mean once at its end, and views read
``run.live.loss()`` (throttled).  Stop requests and KeyboardInterrupt are honoured at batch
boundaries; either ends the run as "stopped" with the model and finished epochs intact.  A NaN loss or
an out-of-memory error ends it "failed" with the kept weights restored; any other error marks it
"failed" and propagates.  The run's status is never left "running".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .device import tf32
from .early import EarlyStopping
from .engine import Engine, Local
from .errors import quote
from .events import CallbackList
from .store import CheckpointWriteError

_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
# CUDA raises torch.OutOfMemoryError; the CPU allocator and MPS raise a RuntimeError with these words
_OOM_TEXT = ("out of memory", "can't allocate memory", "not enough memory")


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, _OOM) or (isinstance(exc, RuntimeError) and any(t in str(exc) for t in _OOM_TEXT))


def _empty_cache() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


class Live:
    """Counters of the epoch in progress, for views: ``epoch``, ``batch``, ``num_batches``, ``step``
    (batches since the run began), ``epoch_start``; ``loss()`` and ``losses_since(k)`` read numbers.

    Reading a number from the device is a host sync, so both reads are throttled here: at most one
    every ``min_interval`` seconds (in between, ``loss()`` returns its last value and
    ``losses_since`` returns ``[]``).  Each read costs work for the batches since the previous read
    only: a running sum on the device is advanced, never rebuilt.
    """

    min_interval = 0.2

    def __init__(self):
        self.epoch = 0
        self.batch = 0
        self.num_batches = 0
        self.step = 0
        self.epoch_start = time.perf_counter()
        self._losses: list = []  # this epoch's batch losses: 0-d device tensors, each its batch's mean
        self._rows: list = []  # rows of each batch trained in this process
        self._reset_reads()

    def _reset_reads(self) -> None:
        self._sum, self._summed, self._rows_summed = None, 0, 0
        self._last = (None, None)  # (time of the last loss() read, its value)
        self._last_since = None

    def begin(self, epoch: int, num_batches: int) -> None:
        self.epoch, self.batch, self.num_batches = epoch, 0, num_batches
        self._losses, self._rows = [], []
        self._reset_reads()
        self.epoch_start = time.perf_counter()

    def record(self, loss, rows: int) -> None:
        """One batch done (the engine calls this; a list append, no device work)."""
        self._losses.append(loss)
        self._rows.append(rows)
        self.batch += 1
        self.step += 1

    def release(self) -> None:
        """Drop the epoch's device tensors (after an out-of-memory error)."""
        self._losses, self._rows = [], []
        self._reset_reads()

    def loss(self) -> float | None:
        """Mean training loss of the current epoch so far, size-weighted (one host read, throttled)."""
        b = min(self.batch, len(self._losses))
        if not b:
            return None
        t, value = self._last
        now = time.monotonic()
        if t is not None and (now - t < self.min_interval or b == self._summed):
            return value
        new = torch.stack(self._losses[self._summed : b]).float()
        rows = self._rows[self._summed : b]
        part = (new * torch.tensor(rows, dtype=torch.float32, device=new.device)).sum()
        self._sum = part if self._sum is None else self._sum + part
        self._summed, self._rows_summed = b, self._rows_summed + sum(rows)
        value = float(self._sum) / max(1, self._rows_summed)  # the host read
        self._last = (now, value)
        return value

    @property
    def has_batch_losses(self) -> bool:
        """Whether this process holds the epoch's batch losses (not so for a relayed rank-0 stream)."""
        return bool(self._losses)

    def losses_since(self, k: int, force: bool = False) -> list:
        """The mean loss of each batch after the first ``k`` of this epoch, as floats (one host read);
        ``[]`` when called again within ``min_interval`` seconds, unless ``force`` (at an epoch's end,
        which is a host sync already).  For a dense running trace."""
        b = min(self.batch, len(self._losses))
        now = time.monotonic()
        throttled = not force and self._last_since is not None and now - self._last_since < self.min_interval
        if k >= b or throttled:
            return []
        self._last_since = now
        return torch.stack(self._losses[max(0, k) : b]).float().tolist()


@dataclass
class Job:
    """Everything the loop needs, prepared and checked by ``nbtrain.train``."""

    model: torch.nn.Module  # what trains: the run's module, or torch.compile's wrapper of it
    loss_fn: Callable
    optimizer: torch.optim.Optimizer
    precision: Any
    train_batches: Any
    val_batches: Any = None
    scheduler: Any = None
    scheduler_per_batch: bool = False  # stepped after every optimizer step (not every micro-batch)
    epochs: int = 10
    start_epoch: int = 1
    evaluator: Callable | None = None  # (model, batches) -> dict of val metrics incl. "loss"
    patience: int | None = None
    monitor: str = "val_loss"
    monitor_higher: bool = False
    batch_size: int = 0
    checkpoint: Callable | None = None  # (run, epoch) -> None, writes a checkpoint
    early: EarlyStopping | None = None  # made from patience/monitor; its state goes into checkpoints
    callbacks: CallbackList = field(default_factory=CallbackList)
    hooks: list = field(default_factory=list)  # callbacks the run itself needs, first (core/finetune.py: unfreezing)
    clip: float | None = None  # max total gradient norm
    clip_value: float | None = None  # max absolute gradient element
    accumulate: int = 1  # micro-batches per optimizer step
    tf32: bool = False  # TF32 matmuls/convolutions and cudnn.benchmark for this run (CUDA)

    def __post_init__(self):
        if self.early is None and self.patience is not None:
            self.early = EarlyStopping(self.patience, self.monitor, self.monitor_higher)


def fit(run, job: Job, par=None) -> str:
    """Train ``job.model`` for the remaining epochs, recording into ``run``; returns the final status.

    ``par`` is the engine's plug-in (default: one process).  In one process, exceptions other than
    stop/interrupt/out-of-memory/checkpoint-write mark the run "failed" and propagate after
    ``on_fit_end``; on a distributed rank every exception propagates (the launcher reports it).
    """
    par = par or Local()
    cbs, live = job.callbacks, run.live
    run.status = "running"
    status, reason, oom, engine = "failed", None, False, None
    try:
        with tf32(job.tf32):
            engine = Engine(run, job, par)
            engine.keep_initial()
            cbs.on_fit_start(run)
            status, reason = engine.train()
            if status != "failed":
                engine.restore_best()
    except KeyboardInterrupt:
        if par.distributed:
            raise
        status, reason = "stopped", "interrupted (KeyboardInterrupt)"
        run.request_stop(reason)
        cbs.on_interrupt(run, reason=reason)
        status, reason = _restore_best(engine, status, reason)
    except CheckpointWriteError as exc:
        # disk full / no permission: the previous checkpoint is intact, this epoch stays in memory
        status, reason = "failed", f"{exc} The model and history of epoch {live.epoch} are kept in this run."
    except BaseException as exc:
        if par.distributed or not _is_oom(exc):
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
            if not par.distributed:
                cbs.on_fit_end(run, status="failed")
            raise
        # out of memory: free what the failed step held, keep the kept weights
        exc = None
        live.release()
        job.optimizer.zero_grad(set_to_none=True)
        if engine is not None:
            engine.restore_kept()
        status, oom = "failed", True
        where = f"step {live.batch + 1}" if live.batch < live.num_batches else "validation"
        kept = engine.kept() if engine is not None else "the model was left as it was"
        reason = (
            f"out of memory at epoch {live.epoch}, {where} with batch size {job.batch_size}; {kept}. "
            f"Try a smaller batch size, e.g. batch_size={max(1, job.batch_size // 2)}."
        )
    finally:
        live.batch = 0
        if run.status == "running":
            run.status = "failed"  # set again below; stays if an exception is on its way out
        close_loaders(run, job)
    if oom:
        _empty_cache()  # here, not in the except block: the traceback (and the activations its frames hold) is gone
    run.status = status
    if status == "failed":
        run.error = reason
    elif reason:
        run.note = reason
    cbs.on_fit_end(run, status=status)
    return status


def close_loaders(run, job) -> None:
    """A finished run keeps no processes (a Dataset's persistent DataLoader workers) and no device copy
    of its in-memory data (its splits go back to the shared host copy)."""
    from .inputs import release_device

    for b in [job.train_batches, job.val_batches, *run._splits.values()]:
        close = getattr(b, "close", None)
        if close is not None:
            close()
    release_device(run)


def _restore_best(engine, status: str, reason: str | None):
    """After an interrupt: the best weights with patience, as at any other end."""
    try:
        if engine is not None:
            engine.restore_best()
    except Exception as exc:  # never leave the run "running" over a failed restore
        return "failed", f"the best epoch's weights could not be restored: {quote(exc)}"
    return status, reason
