"""The training loop one rank runs under ``torch.distributed`` (DDP), mirroring ``core.loop.fit``.

Sharding: every rank walks the same seeded permutation as a one-process run (the train batches'
``torch.Generator`` is identical on every rank), so every rank sees the same *global* batch and
keeps rows ``[B*r//W, B*(r+1)//W)`` of it.  DDP averages gradients over ranks, so rank r scales its
shard-mean loss by ``n_r * W / B``: the average is then exactly the gradient of the global batch's
mean loss, for uneven last batches too (a rank with no rows runs one row with weight 0, so every
parameter still takes part in the all-reduce).  This holds for losses that are a mean over the
batch (every preset is); a user loss that sums must be divided by the batch size.

Agreement between ranks: one tiny all-reduce per step carries rank 0's stop flag (the kernel's Stop
or interrupt, read from a file), so every rank leaves at the same step.  At each epoch end one
all-reduce sums the training loss and one broadcast carries rank 0's decision (continue, early
stop, stop request).  Validation runs on rank 0 over the full validation split.
"""

from __future__ import annotations

import gc
import math
import time

import torch
import torch.distributed as dist

from .channel import Channel

CONTINUE, EARLY_STOP, STOP = 0, 1, 2


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a global batch of ``n`` rows that ``rank`` trains on."""
    return (n * rank) // world, (n * (rank + 1)) // world


def _snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def ddp_fit(
    run, job, *, rank: int, world: int, device: torch.device, channel: Channel, evaluator=None, stop_every: int = 1
):
    """Train ``run.model`` wrapped in DDP.  Returns the final status; rank 0 reports through ``channel``."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    net = run.model
    ddp = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
    opt, prec, loss_fn, sched = job.optimizer, job.precision, job.loss_fn, job.scheduler
    evaluator = evaluator or job.evaluator
    lead = rank == 0
    flag = torch.zeros(1, dtype=torch.int32, device=device)
    decision = torch.zeros(1, dtype=torch.int32, device=device)
    status, reason = "completed", None
    best_state, best_value, bad_epochs = None, math.inf, 0
    good_state = _snapshot(net) if lead else None
    step = 0
    if lead:
        channel.emit("fit_start", world=world)
    try:
        for epoch in range(job.start_epoch, job.epochs + 1):
            nb = len(job.train_batches)
            if lead:
                channel.emit("epoch_start", epoch=epoch, num_batches=nb)
            t0 = time.perf_counter()
            ddp.train()
            local_sums, n_seen, n_local = [], 0, 0
            last_emit = 0.0
            for batch, (xb, yb) in enumerate(job.train_batches.epoch(), 1):
                big = len(yb)
                lo, hi = shard_bounds(big, rank, world)
                n_r = hi - lo
                if n_r > 0:
                    x, y, weight = xb[lo:hi], yb[lo:hi], n_r * world / big
                else:  # fewer rows than ranks: take part in the all-reduce with a zero gradient
                    x, y, weight = xb[:1], yb[:1], 0.0
                with prec.autocast():
                    out = ddp(x)
                    loss = loss_fn(out, y)
                opt.zero_grad(set_to_none=True)
                prec.backward(loss if weight == 1.0 else loss * weight)
                prec.step(opt)
                if sched is not None and job.scheduler_per_batch:
                    sched.step()
                local_sums.append(loss.detach().float() * n_r)
                n_seen += big
                n_local += n_r
                step += 1
                if lead:
                    now = time.monotonic()
                    if now - last_emit >= channel.interval or batch == nb:
                        last_emit = now
                        # a host sync, throttled: rank 0's own shard, the epoch's running mean so far
                        running = float(torch.stack(local_sums).sum()) / max(1, n_local)
                        channel.emit("batch", epoch=epoch, batch=batch, num_batches=nb, step=step, loss=running)
                if step % stop_every == 0:
                    flag.fill_(1 if (lead and channel.stop_requested()) else 0)
                    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                    if int(flag.item()):
                        raise _Stop
            total = torch.stack(local_sums).sum().reshape(1)
            dist.all_reduce(total)
            train_loss = float(total) / max(1, n_seen)
            if not math.isfinite(train_loss):
                status = "failed"
                reason = (
                    f"the training loss became {'NaN' if math.isnan(train_loss) else 'infinite'} at epoch "
                    f"{epoch}; the weights of the last good epoch were kept. Try a smaller learning rate, "
                    "standardize the features, or use gradient clipping."
                )
                if lead:
                    net.load_state_dict(good_state)
                break
            code = CONTINUE
            if lead:
                row = {"epoch": float(epoch), "train_loss": train_loss}
                if job.val_batches is not None and evaluator is not None:
                    vals = evaluator(net, job.val_batches)
                    row.update({f"val_{k}": float(v) for k, v in vals.items()})
                row["lr"] = float(opt.param_groups[0]["lr"])
            if sched is not None and not job.scheduler_per_batch:
                sched.step()
            if lead:
                row["time"] = time.perf_counter() - t0
                channel.emit("epoch_end", epoch=epoch, logs=row)
                good_state = _snapshot(net)
                if job.patience is not None:
                    value = row.get(job.monitor, row["train_loss"])
                    value = -value if job.monitor_higher else value
                    if value < best_value:
                        best_value, best_state, bad_epochs = value, good_state, 0
                        run.best_epoch = epoch
                    else:
                        bad_epochs += 1
                    if bad_epochs >= job.patience:
                        code = EARLY_STOP
                if channel.stop_requested():
                    code = STOP
            decision.fill_(code)
            dist.broadcast(decision, src=0)
            code = int(decision.item())
            if code == EARLY_STOP:
                reason = f"early stopping: no improvement of {job.monitor} for {job.patience} epochs"
                break
            if code == STOP:
                raise _Stop
    except _Stop:
        status, reason = "stopped", (channel.stop_reason() if lead else None) or "stop requested"
        if lead:
            channel.emit("interrupt", reason=reason)
    if lead and job.patience is not None and best_state is not None and status != "failed":
        net.load_state_dict(best_state)
    if lead:
        channel.send_weights(net.state_dict())
        channel.emit(
            "fit_end",
            status=status,
            error=reason if status == "failed" else None,
            note=reason if status != "failed" else None,
            best_epoch=run.best_epoch,
        )
    # the end-of-training hang: drop DDP (and its reducer) before the process group goes away
    del ddp, opt, sched
    job.optimizer = job.scheduler = None
    gc.collect()
    return status


class _Stop(Exception):
    pass
