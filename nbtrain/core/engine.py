"""The one training engine: the epochs that single-process and data-parallel training both run.

``core.loop.fit`` runs it in this process with :class:`Local`; ``distributed.ddp.ddp_fit`` runs it on
every rank with a plug-in that adds only what data parallelism needs: a shard of each global batch,
DDP's gradient synchronisation (skipped on micro-batches that do not step), and the collectives
(the epoch's loss summed over ranks, a stop flag every few steps, rank 0's decision at epoch end).
Precision, clipping, accumulation, schedulers, the NaN guard, early stopping, the history row and
the events are written once, here.

No host sync per step: batch losses stay on the device and the epoch's mean is read once at its
end (that read is the NaN check too); the stop check is a Python flag in one process; views read
``run.live.loss()``, which is throttled.
"""

from __future__ import annotations

import contextlib
import math
import time

import torch

from .early import Snapshot
from .step import Stepper, StepPlan

CONTINUE, EARLY_STOP, STOP = 0, 1, 2


class StopRequested(Exception):
    """Raised at a batch boundary when the run was asked to stop."""


class Local:
    """One process: no shards, no collectives.  The plug-in interface ``Engine`` calls."""

    lead = True  # records the history, validates, keeps weights, talks to the views
    distributed = False
    world = 1

    def wrap(self, model):
        return model

    def shard(self, xb, yb):
        """``(x, y, rows)``: this process's part of a global batch and how many rows of it count."""
        return xb, yb, len(yb)

    def share(self, yb, y, rows):
        """A factor on the shard's loss when its rows are not its weight (per-position targets on a
        rank: its share of the batch's labelled positions); None in one process."""
        return None

    def no_sync(self, model):
        return contextlib.nullcontext()

    def stop_now(self, run) -> bool:
        """Checked after every batch (every process must give the same answer at the same batch);
        in one process a Python flag, free to read."""
        return run.stop_requested

    def requested(self, run) -> bool:
        """The lead's own view of a stop request, at the end of an epoch (no collective)."""
        return run.stop_requested

    def stop_reason(self, run) -> str:
        return run.stop_reason or "stop requested"

    def total(self, tensor):
        return tensor

    def agree(self, code: int) -> int:
        return code


class Engine:
    """Train ``job`` into ``run`` with the plug-in ``par``.  ``train()`` returns ``(status, reason)``;
    errors other than a stop request propagate (``fit`` decides what they mean)."""

    def __init__(self, run, job, par=None):
        self.run, self.job, self.par = run, job, par or Local()
        self.net = self.par.wrap(job.model)
        self.eager = run.model  # the original module: validation, snapshots, checkpoints, ragged batches
        self.compiled = self.net is not self.eager and not self.par.distributed
        self.stepper = Stepper.from_job(job, model=self.net, no_sync=self.par.no_sync)
        self.early = job.early if self.par.lead else None
        self.guard: Snapshot | None = None  # the one kept copy of the weights (lead only)
        self._sizes = self._sizes_list = None

    # ------------------------------------------------------------------ kept weights
    def keep_initial(self) -> None:
        if not self.par.lead:
            return
        if self.early is not None and self.early.state is not None:
            self.guard = self.early.state  # resumed: the checkpoint's best weights
            return
        self.guard = Snapshot(self.eager)
        self.guard.capture(self.eager)
        if self.early is not None:
            self.early.state = self.guard  # with patience the kept copy is the best epoch's

    def kept(self) -> str:
        """What the NaN guard and the out-of-memory handler fall back to, in words."""
        if self.early is not None and self.early.best_epoch is not None:
            return f"the weights of the best epoch ({self.early.best_epoch}) were kept"
        return "the weights of the last finished epoch were kept"

    def restore_kept(self) -> None:
        if self.guard is not None:
            self.guard.restore(self.eager)

    def restore_best(self) -> None:
        """At the end of a run with patience: the best epoch's weights."""
        if self.early is not None and self.early.best_epoch is not None and self.guard is not None:
            self.guard.restore(self.eager)

    # ------------------------------------------------------------------ epochs
    def train(self) -> tuple[str, str | None]:
        run, job, cbs = self.run, self.job, self.job.callbacks
        job.optimizer.zero_grad(set_to_none=True)
        try:
            for epoch in range(job.start_epoch, job.epochs + 1):
                if not self.par.distributed and run.stop_requested:
                    raise StopRequested
                code, reason = self.epoch(epoch)
                if code == EARLY_STOP:
                    return "completed", job.early.reason if job.early is not None else None
                if code == STOP:
                    raise StopRequested
                if reason is not None:  # the NaN guard
                    return "failed", reason
        except StopRequested:
            reason = self.par.stop_reason(run)
            cbs.on_interrupt(run, reason=reason)
            return "stopped", reason
        return "completed", None

    def epoch(self, epoch: int):
        """One epoch; returns ``(code, failure)``."""
        run, job, par, live, cbs = self.run, self.job, self.par, self.run.live, self.job.callbacks
        batches = job.train_batches
        nb = len(batches)
        live.begin(epoch, nb)
        cbs.on_epoch_start(run, epoch)
        t0 = live.epoch_start
        self.net.train()
        k = job.accumulate
        plan = StepPlan(getattr(batches, "n", 0), getattr(batches, "batch_size", 1), k, par.world, nb)
        sched = job.scheduler if job.scheduler_per_batch else None
        stepper, full = self.stepper, job.batch_size
        seen = 0
        for i, (xb, yb) in enumerate(batches.epoch()):
            big = len(yb)
            x, y, rows = par.shard(xb, yb)
            # a compiled model sees only full batches: the ragged last one runs eagerly (no recompile)
            net = self.eager if self.compiled and len(y) != full else None
            stepping = k == 1 or plan.steps(i)
            scale, share = plan.scale(i, rows, big), par.share(yb, y, rows)
            if share is not None:  # a device tensor (no host sync): labelled positions, not rows, weigh
                scale = scale * share
            loss = stepper.backward(x, y, scale, sync=stepping, model=net)
            if share is not None:
                loss = loss * share
            if stepping:
                stepper.update()
                if sched is not None:
                    sched.step()  # per optimizer step, not per micro-batch
            live.record(loss, rows)
            seen += big
            cbs.on_batch_end(run, epoch, i + 1, nb)
            if par.stop_now(run):
                raise StopRequested
        hint = getattr(batches, "slow_data_hint", None)  # a Dataset's loader: did the step wait on data?
        message = hint(epoch) if hint is not None and par.lead else None
        if message:
            cbs.on_hint(run, message)
        train_loss, failure = self.epoch_loss(epoch, seen)
        if failure is not None:
            return CONTINUE, failure
        row = None
        if par.lead:
            row = {"epoch": float(epoch), "train_loss": train_loss}
            if job.val_batches is not None and job.evaluator is not None:
                vals = job.evaluator(self.eager, job.val_batches)
                row.update({f"val_{key}": v for key, v in vals.items()})
            row["lr"] = float(job.optimizer.param_groups[0]["lr"])
        if job.scheduler is not None and not job.scheduler_per_batch:
            job.scheduler.step()
        code = CONTINUE
        if row is not None:
            code = self.record(epoch, row, t0)
        return par.agree(code), None

    def epoch_loss(self, epoch: int, seen: int):
        """The epoch's size-weighted mean training loss: the one host read of the epoch, and the NaN check."""
        live, par = self.run.live, self.par
        stacked = torch.stack(live._losses).float()
        if self._sizes is None or self._sizes_list != live._rows:
            self._sizes_list = list(live._rows)
            self._sizes = torch.tensor(self._sizes_list, dtype=torch.float32, device=stacked.device)
        weighted = (stacked * self._sizes).sum()
        mean = par.total(weighted.reshape(1))[0] / seen if par.distributed else weighted / self._sizes.sum()
        train_loss = float(mean)
        if math.isfinite(train_loss):
            return train_loss, None
        self.restore_kept()
        where = f"at epoch {epoch}"
        bad = torch.nonzero(~torch.isfinite(stacked))
        if len(bad):
            where += f", step {int(bad[0, 0]) + 1}"
        what = "NaN" if math.isnan(train_loss) else "infinite"
        clip = self.job.clip
        hint = (
            "or clip the gradients: clip=1.0 (--clip 1.0)"
            if clip is None
            else f"or clip the gradients harder than clip={clip:g}"
        )
        return None, (
            f"the training loss became {what} {where}; {self.kept()}. "
            f"Try a smaller learning rate, standardize the features, {hint}."
        )

    def record(self, epoch: int, row: dict, t0: float) -> int:
        """The lead's end of an epoch: history, views, kept weights, early stopping, checkpoint."""
        run, job, cbs, early = self.run, self.job, self.job.callbacks, self.early
        row["time"] = time.perf_counter() - t0
        logs = cbs.floats(row)
        run.history.append(logs)  # record first, then tell the views: an interrupt in a view keeps this epoch
        # the kept copy, taken before the views run: the NaN guard's is this finished epoch, with
        # patience it is the best epoch's
        if early is None and self.guard is not None:
            self.guard.capture(self.eager)
        elif early is not None and early.update(logs, epoch):
            run.best_epoch = epoch
            self.guard.capture(self.eager)
        cbs.on_epoch_end(run, epoch, logs)
        if job.checkpoint is not None:
            job.checkpoint(run, epoch)
        if early is not None and early.should_stop:
            return EARLY_STOP
        if self.par.requested(run) and epoch < job.epochs:
            return STOP
        return CONTINUE
