"""The training loop: the only code that runs batches and emits events.

Batch losses stay on the device in a list; the host reads them once per epoch (or when a
throttled view calls ``run.live.loss()``).  Stop requests and KeyboardInterrupt are honoured at
batch boundaries; either ends the run as "stopped" with the model and finished epochs intact.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .events import CallbackList
from .store import CheckpointWriteError


class _StopRequested(Exception):
    pass


_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
# CUDA raises torch.OutOfMemoryError; the CPU allocator and MPS raise a RuntimeError with these words
_OOM_TEXT = ("out of memory", "can't allocate memory", "not enough memory")


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, _OOM) or (isinstance(exc, RuntimeError) and any(t in str(exc) for t in _OOM_TEXT))


def _empty_cache() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


class Live:
    """Counters of the epoch in progress, for views.  ``loss()`` is a host sync: call it throttled."""

    def __init__(self):
        self.epoch = 0
        self.batch = 0
        self.num_batches = 0
        self.step = 0
        self.epoch_start = time.perf_counter()
        self._losses: list = []

    def loss(self) -> float | None:
        """Mean training loss of the current epoch so far (reads from the device)."""
        losses = self._losses[: self.batch]
        if not losses:
            return None
        return float(torch.stack(losses).float().mean())


@dataclass
class Job:
    """Everything the loop needs, prepared and checked by ``nbtrain.train``."""

    model: torch.nn.Module
    loss_fn: Callable
    optimizer: torch.optim.Optimizer
    precision: Any
    train_batches: Any
    val_batches: Any = None
    scheduler: Any = None
    scheduler_per_batch: bool = False
    epochs: int = 10
    start_epoch: int = 1
    evaluator: Callable | None = None  # (model, batches) -> dict of val metrics incl. "loss"
    patience: int | None = None
    monitor: str = "val_loss"
    monitor_higher: bool = False
    batch_size: int = 0
    checkpoint: Callable | None = None  # (run, epoch) -> None, writes a checkpoint
    early: Any = None  # (best_state, best_value, bad_epochs): kept for checkpoints/resume
    callbacks: CallbackList = field(default_factory=CallbackList)


def _snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _restore(model, state: dict) -> None:
    model.load_state_dict(state)


def fit(run, job: Job) -> None:
    """Train ``job.model`` for the remaining epochs, recording into ``run``.  Exceptions other
    than stop/interrupt mark the run "failed" and propagate after ``on_fit_end``."""
    cbs, model, opt, prec = job.callbacks, job.model, job.optimizer, job.precision
    loss_fn, sched = job.loss_fn, job.scheduler
    live = run.live
    run.status = "running"
    cbs.on_fit_start(run)
    status, reason = "completed", None
    best_state, best_value, bad_epochs = job.early or (None, math.inf, 0)
    good_state = _snapshot(model)
    sizes, oom = None, False
    try:
        for epoch in range(job.start_epoch, job.epochs + 1):
            if run.stop_requested:
                raise _StopRequested
            nb = len(job.train_batches)
            live.epoch, live.batch, live.num_batches = epoch, 0, nb
            live._losses = losses = []
            live.epoch_start = t0 = time.perf_counter()
            cbs.on_epoch_start(run, epoch)
            model.train()
            batch = 0
            per_batch_sched = sched if job.scheduler_per_batch else None
            bsizes = []
            for xb, yb in job.train_batches.epoch():
                with prec.autocast():
                    out = model(xb)
                    loss = loss_fn(out, yb)
                opt.zero_grad(set_to_none=True)
                prec.backward(loss)
                prec.step(opt)
                if per_batch_sched is not None:
                    per_batch_sched.step()
                losses.append(loss.detach())
                bsizes.append(len(yb))
                batch += 1
                live.batch = batch
                live.step += 1
                cbs.on_batch_end(run, epoch, batch, nb)
                if run.stop_requested:
                    raise _StopRequested
            # one host sync per epoch: the size-weighted mean of the batch losses
            stacked = torch.stack(losses).float()
            if sizes is None or len(sizes) != len(bsizes):
                sizes = torch.tensor(bsizes, dtype=torch.float32, device=stacked.device)
            train_loss = float((stacked * sizes).sum() / sizes.sum())
            if not math.isfinite(train_loss):
                bad = int(torch.nonzero(~torch.isfinite(stacked))[0, 0]) + 1
                _restore(model, good_state)
                status = "failed"
                reason = (
                    f"the training loss became {'NaN' if math.isnan(stacked[bad - 1]) else 'infinite'} "
                    f"at epoch {epoch}, step {bad}; the weights of the last good epoch were kept. "
                    "Try a smaller learning rate, standardize the features, or use gradient clipping."
                )
                break
            row = {"epoch": float(epoch), "train_loss": train_loss}
            if job.val_batches is not None and job.evaluator is not None:
                vals = job.evaluator(model, job.val_batches)
                row.update({f"val_{k}": v for k, v in vals.items()})
            row["lr"] = float(opt.param_groups[0]["lr"])
            if sched is not None and not job.scheduler_per_batch:
                sched.step()
            row["time"] = time.perf_counter() - t0
            # record first, then tell the views: an interrupt inside a view keeps this epoch
            logs = cbs.floats(row)
            run.history.append(logs)
            good_state = _snapshot(model)
            cbs.on_epoch_end(run, epoch, logs)
            # early stopping on the monitored value (lower is better for losses)
            if job.patience is not None:
                value = logs.get(job.monitor, logs["train_loss"])
                if job.monitor_higher:
                    value = -value
                if value < best_value:
                    best_value, best_state, bad_epochs = value, good_state, 0
                    run.best_epoch = epoch
                else:
                    bad_epochs += 1
            job.early = (best_state, best_value, bad_epochs)
            if job.checkpoint is not None:
                job.checkpoint(run, epoch)
            if job.patience is not None and bad_epochs >= job.patience:
                reason = f"early stopping: no improvement of {job.monitor} for {job.patience} epochs"
                break
    except _StopRequested:
        status, reason = "stopped", run.stop_reason or "stop requested"
        cbs.on_interrupt(run, reason=reason)
    except KeyboardInterrupt:
        status, reason = "stopped", "interrupted (KeyboardInterrupt)"
        run.request_stop(reason)
        cbs.on_interrupt(run, reason=reason)
    except CheckpointWriteError as exc:
        # disk full / no permission: the previous checkpoint is intact, this epoch stays in memory
        status, reason = "failed", f"{exc} The model and history of epoch {live.epoch} are kept in this run."
    except BaseException as exc:
        if not _is_oom(exc):
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
            try:
                cbs.on_fit_end(run, status="failed")
            finally:
                raise
        # out of memory: free what the failed step held, keep the last finished epoch's weights
        losses = out = loss = xb = yb = exc = None
        live._losses = []
        opt.zero_grad(set_to_none=True)
        _restore(model, good_state)
        status, oom = "failed", True
        where = f"step {live.batch + 1}" if live.batch < live.num_batches else "validation"
        reason = (
            f"out of memory at epoch {live.epoch}, {where} with batch size {job.batch_size}; "
            f"the weights of the last finished epoch were kept. Try a smaller batch size, "
            f"e.g. batch_size={max(1, job.batch_size // 2)}."
        )
    finally:
        live.batch = 0
    if oom:
        _empty_cache()  # here, not in the except block: the traceback (and the activations its frames hold) is gone
    if job.patience is not None and best_state is not None and status != "failed":
        _restore(model, best_state)
    run.status = status
    if status == "failed":
        run.error = reason
    elif reason:
        run.note = reason
    cbs.on_fit_end(run, status=status)
