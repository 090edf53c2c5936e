"""What data parallelism adds to the core engine on one rank: sharding, DDP's gradient sync, collectives.

The epochs themselves (precision, clipping, accumulation, schedulers, the NaN guard, early stopping,
the history row) are ``core.engine``'s, the same code a one-process run takes; this module is the
engine's plug-in for a rank plus the reporter that streams rank 0's events to the kernel.

Sharding: every rank walks the same seeded permutation as a one-process run (the train batches'
``torch.Generator`` is identical on every rank), so every rank sees the same *global* batch and
keeps rows ``[B*r//W, B*(r+1)//W)`` of it.  DDP averages gradients over ranks, so rank r scales its
shard-mean loss by ``n_r * W / B`` (by ``n_r * W / rows_of_the_step`` with ``accumulate``): the
average is then exactly the gradient of the global batch's mean loss, for uneven last batches too
(a rank with no rows runs one row with weight 0, so every parameter still takes part in the
all-reduce).  This holds for losses that are a mean over the batch (every preset is); a user loss
that sums must be divided by the batch size.  With ``accumulate=K``, DDP's all-reduce runs only on
the micro-batch that steps (``no_sync`` on the others).

Agreement between ranks, without a host sync per step: every k steps one all-reduce of a two-number
*host* tensor (on a gloo group, also when gradients go through nccl) carries rank 0's stop flag (the
kernel's Stop or interrupt, read from a file) and the next k, which rank 0 picks so that checks come
about ``STOP_CHECK_S`` apart: Stop acts within a fraction of a second and the GPU queue never drains.
At each epoch end one all-reduce sums the training loss and one broadcast carries rank 0's decision
(continue, early stop, stop request).  Validation runs on rank 0 over the full validation split.
"""

from __future__ import annotations

import gc
import time

import torch
import torch.distributed as dist

from ..core.batch import take
from ..core.engine import Local
from ..core.events import Callback, CallbackList
from ..core.finetune import Unfreeze
from ..core.loop import fit
from ..core.targets import IGNORE
from .channel import Channel

STOP_CHECK_S = 0.2  # seconds between stop checks, about
MAX_STOP_EVERY = 100_000


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a global batch of ``n`` rows that ``rank`` trains on."""
    return (n * rank) // world, (n * (rank + 1)) // world


class DataParallel(Local):
    """The engine's plug-in on rank ``rank`` of ``world``.  ``stop_every``: check the stop flag every
    that many steps (an int), or ``None`` to let rank 0 pick it from the measured step time."""

    distributed = True

    def __init__(self, rank: int, world: int, device: torch.device, channel: Channel, stop_every=None):
        self.rank, self.world, self.device, self.channel = rank, world, device, channel
        self.lead = rank == 0
        # the flag and the decision are host numbers: a gloo group carries them even when nccl
        # carries the gradients, so reading them never waits for the GPU
        self.group = None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        self.flag = torch.zeros(2, dtype=torch.float64)  # [stop, next k]
        self.decision = torch.zeros(1, dtype=torch.int64)
        self.fixed = int(stop_every) if stop_every else None
        self.every = self.fixed or 1
        self.steps, self.next_check = 0, self.every
        self._t = time.monotonic()
        self.ddp = None

    #: parameters frozen now that a hook turns back on later (``unfreeze_at=``, core/finetune.py)
    thawing = False

    def wrap(self, model):
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        frozen = [p for p in model.parameters() if not p.requires_grad]
        if not (self.thawing and frozen):
            self.ddp = DDP(model, device_ids=ids)  # DDP syncs the parameters that train now, only
            return self.ddp
        # Gradual unfreezing: DDP reduces only the parameters that need a gradient when it is built, so
        # parameters unfrozen later would train on each rank's own shard and the ranks would drift
        # apart.  Built with them all, and told that some get no gradient (the frozen ones, until the
        # hook turns them on): a parameter unused on every rank keeps its gradient None (no state).
        for p in frozen:
            p.requires_grad_(True)
        try:
            self.ddp = DDP(model, device_ids=ids, find_unused_parameters=True)
        finally:
            for p in frozen:
                p.requires_grad_(False)
        return self.ddp

    def shard(self, xb, yb):
        lo, hi = shard_bounds(len(yb), self.rank, self.world)
        if hi > lo:
            return take(xb, lo, hi), yb[lo:hi], hi - lo
        return take(xb, 0, 1), yb[:1], 0  # fewer rows than ranks: take part in the all-reduce with a zero gradient

    def share(self, yb, y, rows):
        """Per-position labels (an integer target with more than one dimension): a batch's loss is the
        mean over its labelled positions, so this rank's shard weighs by its share of them, not of the
        rows (rows with different numbers of -100 would tilt the average otherwise).  ``(m / rows) /
        (M / B)``: a device tensor, no host sync."""
        if rows == 0 or yb.dim() < 2 or yb.dtype.is_floating_point or yb.dtype == torch.bool:
            return None
        m = (y != IGNORE).sum()
        total = (yb != IGNORE).sum().clamp(min=1)
        return (m * len(yb)).float() / (total * rows).float()

    def no_sync(self, model):
        return model.no_sync()

    def stop_now(self, run) -> bool:
        self.steps += 1
        if self.steps < self.next_check:
            return False
        if self.lead:
            now = time.monotonic()
            elapsed, self._t = now - self._t, now
            every = self.fixed or round(self.every * STOP_CHECK_S / max(elapsed, 1e-6))
            self.flag[0] = 1.0 if self.channel.stop_requested() else 0.0
            self.flag[1] = float(max(1, min(MAX_STOP_EVERY, every)))
        else:
            self.flag.zero_()
        dist.all_reduce(self.flag, op=dist.ReduceOp.MAX, group=self.group)
        stop, every = self.flag.tolist()  # a host tensor: no device sync, every ~STOP_CHECK_S
        self.every = int(every)
        self.next_check = self.steps + self.every
        return bool(stop)

    def requested(self, run) -> bool:
        return self.lead and self.channel.stop_requested()

    def stop_reason(self, run) -> str:
        return (self.channel.stop_reason() if self.lead else None) or "stop requested"

    def total(self, tensor):
        dist.all_reduce(tensor)
        return tensor

    def agree(self, code: int) -> int:
        self.decision.fill_(code)
        dist.broadcast(self.decision, src=0, group=self.group)
        return int(self.decision.tolist()[0])


class Reporter(Callback):
    """Rank 0's events to the kernel through the channel (the kernel's Relay turns them into callbacks)."""

    def __init__(self, channel: Channel, world: int):
        self.channel, self.world, self._last = channel, world, 0.0

    def on_fit_start(self, run, **kw):
        self.channel.emit("fit_start", world=self.world)

    def on_epoch_start(self, run, epoch, **kw):
        self.channel.emit("epoch_start", epoch=epoch, num_batches=run.live.num_batches)

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        now = time.monotonic()
        if now - self._last >= self.channel.interval or batch == num_batches:
            self._last = now
            # rank 0's own shard, the epoch's running mean so far (a host read, throttled)
            loss = run.live.loss()
            self.channel.emit("batch", epoch=epoch, batch=batch, num_batches=num_batches, step=run.live.step, loss=loss)

    def on_epoch_end(self, run, epoch, logs, **kw):
        self.channel.emit("epoch_end", epoch=epoch, logs=logs)

    def on_interrupt(self, run, reason, **kw):
        self.channel.emit("interrupt", reason=reason)

    def on_fit_end(self, run, status, **kw):
        self.channel.send_weights(run.model.state_dict())
        self.channel.emit(
            "fit_end",
            status=status,
            error=run.error if status == "failed" else None,
            note=run.note if status != "failed" else None,
            best_epoch=run.best_epoch,
        )


def ddp_fit(
    run, job, *, rank: int, world: int, device: torch.device, channel: Channel, evaluator=None, stop_every=None
):
    """Train ``run.model`` wrapped in DDP on the core engine.  Returns the final status; rank 0 reports
    through ``channel``.  Errors propagate (the worker records them for the kernel)."""
    par = DataParallel(rank, world, device, channel, stop_every)
    hooks = list(getattr(job, "hooks", None) or [])  # what the run itself needs (unfreezing), on every rank
    par.thawing = any(isinstance(h, Unfreeze) for h in hooks)
    if evaluator is not None:
        job.evaluator = evaluator
    job.callbacks = CallbackList(hooks + ([Reporter(channel, world)] if par.lead else []))
    job.checkpoint = None
    try:
        return fit(run, job, par)
    finally:
        # the end-of-training hang: drop DDP (and its reducer) before the process group goes away
        par.ddp = None
        job.optimizer = job.scheduler = None
        gc.collect()
