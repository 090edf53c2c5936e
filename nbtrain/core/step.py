"""One optimizer step, exactly as training takes it: the piece the epoch engine and the
learning-rate finder share.

A step is K micro-batches (``accumulate=K``): each runs forward under the precision's autocast, its
loss is scaled by the micro-batch's share of the step's rows, and backward runs through fp16's
GradScaler; then the gradients are unscaled (fp16), clipped (``clip``: max total norm,
``clip_value``: element-wise), the optimizer steps and the gradients are freed.  The update then
equals one step on the K micro-batches joined into one batch (for losses that are a mean over the
batch, as every preset is).  Nothing here reads a number from the device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from . import batch


class Stepper:
    """Forward, loss, backward, unscale, clip, optimizer step, ``zero_grad``: one optimizer step.

    >>> stepper = Stepper.from_job(job)                  # doctest: +SKIP
    >>> loss = stepper.step([(x1, y1), (x2, y2)])        # one update over two micro-batches
    >>> float(loss)                                      # their rows-weighted mean loss (a host read)

    ``step(batches)`` takes one optimizer step's micro-batches at once (pass ``job.accumulate`` of
    them to step as training does).  The epoch engine calls the two halves itself:
    ``backward(x, y, scale, sync=...)`` per micro-batch and ``update()`` after the last one of a step.
    ``no_sync`` (DDP's ``model.no_sync``) is entered for micro-batches that do not step, so
    gradients are all-reduced once per step.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: Callable,
        optimizer: torch.optim.Optimizer,
        precision,
        *,
        clip: float | None = None,
        clip_value: float | None = None,
        no_sync: Callable | None = None,
    ):
        self.model, self.loss_fn, self.optimizer, self.precision = model, loss_fn, optimizer, precision
        self.clip, self.clip_value, self.no_sync = clip, clip_value, no_sync
        self._params = [p for group in optimizer.param_groups for p in group["params"]]
        self.wants_labels = getattr(loss_fn, "wants_labels", False)

    @classmethod
    def from_job(cls, job, model: torch.nn.Module | None = None, **kwargs) -> Stepper:
        """The stepper of a prepared ``Job``: its model (or ``model``), loss, optimizer, precision, clipping."""
        return cls(
            model if model is not None else job.model,
            job.loss_fn,
            job.optimizer,
            job.precision,
            clip=job.clip,
            clip_value=job.clip_value,
            **kwargs,
        )

    def backward(self, x, y, scale: float = 1.0, *, sync: bool = True, model=None) -> torch.Tensor:
        """Forward and backward of one micro-batch, its loss multiplied by ``scale``; returns the
        unscaled loss, detached, on the device.  ``sync=False`` skips DDP's gradient all-reduce."""
        net = self.model if model is None else model
        if not sync and self.no_sync is not None:
            with self.no_sync(net):
                return self._backward(net, x, y, scale)
        return self._backward(net, x, y, scale)

    def _backward(self, net, x, y, scale: float) -> torch.Tensor:
        with self.precision.autocast():
            out = batch.call(net, x, y if self.wants_labels else None)  # model(x), (*x) or (**x)
            loss = self.loss_fn(out, y)
        self.precision.backward(loss if isinstance(scale, float) and scale == 1.0 else loss * scale)
        return loss.detach()

    def update(self) -> None:
        """Unscale (fp16), clip, step, and free the gradients."""
        opt, prec = self.optimizer, self.precision
        if self.clip is not None or self.clip_value is not None:
            prec.unscale(opt)  # clip the true gradients, not fp16's scaled ones
            if self.clip_value is not None:
                torch.nn.utils.clip_grad_value_(self._params, self.clip_value)
            if self.clip is not None:
                # no host sync: the norm stays on the device and scales the gradients by min(1, clip/norm)
                torch.nn.utils.clip_grad_norm_(self._params, self.clip)
        prec.step(opt)
        opt.zero_grad(set_to_none=True)

    def step(self, batches: Iterable) -> torch.Tensor:
        """One optimizer step over ``batches`` (``(x, y)`` pairs); returns their rows-weighted mean loss."""
        batches = list(batches)
        if not batches:
            raise ValueError("Stepper.step needs at least one (x, y) batch.")
        rows = [len(y) for _, y in batches]
        total = sum(rows)
        losses = [
            self.backward(x, y, n / total, sync=i == len(batches) - 1).float() * n
            for i, ((x, y), n) in enumerate(zip(batches, rows))
        ]
        self.update()
        return torch.stack(losses).sum() / total


class StepPlan:
    """Which micro-batches step, and each one's loss scale, for ``accumulate`` micro-batches a step.

    A micro-batch's loss is a mean over its own rows; scaled by ``rows * world / step_rows`` (its
    share of the step's rows across all ranks; DDP averages gradients over ``world`` ranks), the
    summed gradients are those of the mean loss over every row of the step.  With ``accumulate=1``
    in one process every scale is exactly 1.0.  The last step of an epoch takes what is left.

    >>> plan = StepPlan(n=10, batch_size=4, accumulate=2)     # micro-batches of 4, 4, 2
    >>> [plan.steps(i) for i in range(3)], plan.scale(2, rows=2, global_rows=2)
    ([False, True, True], 1.0)
    """

    def __init__(self, n: int, batch_size: int, accumulate: int = 1, world: int = 1, num_batches: int | None = None):
        self.n, self.batch_size, self.k, self.world = n, batch_size, accumulate, world
        self.num_batches = -(-n // batch_size) if num_batches is None else num_batches

    def steps(self, i: int) -> bool:
        """Does micro-batch ``i`` (0-based) end an optimizer step?"""
        return (i + 1) % self.k == 0 or i + 1 == self.num_batches

    def step_rows(self, i: int, global_rows: int) -> int:
        if self.k == 1:
            return global_rows
        first = (i // self.k) * self.k * self.batch_size
        return min(first + self.k * self.batch_size, self.n) - first

    def scale(self, i: int, rows: int, global_rows: int) -> float:
        """The loss multiplier of micro-batch ``i``: ``rows`` of its ``global_rows`` are trained here."""
        return rows * self.world / self.step_rows(i, global_rows)

    def steps_per_epoch(self) -> int:
        return -(-self.num_batches // self.k)
