"""Batches of a torch ``Dataset``: :class:`LoaderBatches`, a DataLoader with workers, the last stage of
the Dataset path (what the items are, and what the Dataset says of its targets, is the adapter's:
:mod:`~nbtrain.core.sources.torch_items`).

>>> b = LoaderBatches(ds, 64, torch.Generator(), torch.device("cpu"), torch.long, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time

import torch

from . import batch
from .errors import ConfigError, first_line
from .forms import base, is_iterable, split_item

#: the "more workers would help" hint: the step waited on data for more than this share of an epoch
WAIT_SHARE = 0.5
#: ... of an epoch at least this long (seconds): shorter epochs are too noisy to judge
HINT_MIN_EPOCH_S = 0.5


def check_workers(dataset, workers: int, on_device: bool) -> None:
    """Before training: workers need samples on the host, and a Dataset a spawned worker can import."""
    if workers == 0:
        return
    if on_device:
        raise ConfigError(
            f"workers={workers}: the Dataset yields CUDA tensors, which worker processes cannot make; "
            "use workers=0, or yield CPU tensors and let nbtrain copy each batch."
        )
    if start_method() == "fork":
        return  # a forked worker inherits the notebook's classes
    cls = type(base(dataset))
    fix = "move the class into a .py file next to the notebook and import it from there, or use workers=0"
    if cls.__module__ == "__main__":
        raise ConfigError(
            f"workers={workers}: the Dataset class {cls.__name__} is defined in the notebook, and worker "
            f"processes started with {start_method()!r} cannot import it; {fix}."
        )
    try:
        pickle.dumps(dataset)
    except Exception as exc:
        raise ConfigError(
            f"workers={workers}: the Dataset cannot be sent to a worker process ({first_line(exc)}); {fix}."
        ) from None


def start_method() -> str:
    """How DataLoader workers are started here (fork on Linux, spawn on macOS and Windows)."""
    return multiprocessing.get_start_method(allow_none=False)


def _move(t: torch.Tensor, device: torch.device, dtype: torch.dtype, non_blocking: bool) -> torch.Tensor:
    """Cast a wider dtype (float64) before the copy, so that it crosses at the narrow size (and MPS,
    which has no float64, never sees it); a narrower one (uint8 images) after it."""
    if t.dtype.itemsize > dtype.itemsize:
        t = t.to(dtype)
    return t.to(device, non_blocking=non_blocking).to(dtype)


class EpochOrder(torch.utils.data.Sampler):
    """A new permutation of ``0..n-1`` every epoch, drawn from ``generator`` (saved in checkpoints)."""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = n, generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


class LoaderBatches:
    """A torch ``Dataset`` through a ``DataLoader``; batches move to the device per step.

    ``workers`` feeds ``num_workers`` (persistent across epochs, prefetching 2 batches each); on CUDA
    host batches are pinned and copied non-blocking.  An ``IterableDataset`` gives ``steps`` batches
    an epoch, continuing its iterator across epochs.  The training epochs record how long the step
    waited for data (``wait``, ``elapsed``) for the "more workers would help" hint.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        generator: torch.Generator,
        device: torch.device,
        target_dtype: torch.dtype,
        *,
        workers: int = 0,
        steps: int | None = None,
        on_device: bool = False,
        probe=None,
        target: str | None = None,
        collate=None,
        keep_ints: bool = True,
    ):
        self.dataset, self.batch_size, self.generator = dataset, batch_size, generator
        self.device, self.target_dtype = device, target_dtype
        self.workers, self.steps, self.on_device = workers, steps, on_device
        self.iterable = is_iterable(dataset)
        if self.iterable and steps:
            self.n = steps * batch_size
        else:
            self.n = len(dataset) if hasattr(dataset, "__len__") else 0  # a finite stream for evaluation
        self._pin = device.type == "cuda" and not on_device
        self._probe = probe
        self.target, self.collate, self.keep_ints = target, collate, keep_ints
        self._loaders: dict = {}
        self._stream = None  # an IterableDataset's iterator, continued across epochs
        self.wait = self.elapsed = 0.0
        self._hinted = False

    def __getstate__(self):  # sent to distributed ranks: loaders and their workers stay behind
        return {k: v for k, v in self.__dict__.items() if k not in ("_loaders", "_stream")}

    def __setstate__(self, state):
        self.__dict__.update(state, _loaders={}, _stream=None)

    def __len__(self) -> int:
        if self.iterable and self.steps:
            return self.steps
        return -(-self.n // self.batch_size)

    def probe(self):
        """The first samples, for the one-batch check before training: ``(xb, yb)`` as read by the source's
        adapter, or a function that reads them (called once, when first asked)."""
        if callable(self._probe):
            self._probe = self._probe()
        return self._move(*self._probe)

    def _move(self, xb, yb):
        """The dtype rule (floats -> float32, integers kept for a model of the user's own) and the
        device, for any structure of inputs (:func:`.batch.to_device`)."""
        if isinstance(xb, torch.Tensor) and (xb.is_floating_point() or not self.keep_ints):
            x = _move(xb, self.device, torch.float32, self._pin)
        else:
            x = batch.to_device(xb, self.device, ints=self.keep_ints)
        return x, _move(yb, self.device, self.target_dtype, self._pin)

    def loader(self, shuffle: bool):
        """One DataLoader per order, kept: persistent workers live across epochs (``close`` ends them).

        The epoch's order is drawn from the run's generator alone, and the workers' seeds from one of
        their own: the same batches with any number of workers, and no draw from torch's global RNG
        (which the model's dropout uses)."""
        shuffle = shuffle and not self.iterable
        if shuffle not in self._loaders:
            w = self.workers
            seeds = torch.Generator().manual_seed(self.generator.initial_seed() + 1)
            self._loaders[shuffle] = torch.utils.data.DataLoader(
                self.dataset,
                batch_size=self.batch_size,
                sampler=EpochOrder(len(self.dataset), self.generator) if shuffle else None,
                generator=seeds,
                num_workers=w,
                persistent_workers=w > 0,
                prefetch_factor=2 if w > 0 else None,
                pin_memory=self._pin,
                collate_fn=self.collate,
            )
        return self._loaders[shuffle]

    def _source(self, shuffle: bool):
        if not (self.iterable and self.steps and shuffle):
            return iter(self.loader(shuffle))
        return self._steps()

    def _steps(self):
        """``steps`` batches of an IterableDataset, continuing where the last epoch stopped."""
        for _ in range(self.steps):
            if self._stream is None:
                self._stream = iter(self.loader(False))
            try:
                yield next(self._stream)
            except StopIteration:
                self._stream = iter(self.loader(False))  # the stream ended: start a new pass
                try:
                    yield next(self._stream)
                except StopIteration:
                    return

    def epoch(self, shuffle: bool = True):
        it = self._source(shuffle)
        t0 = time.perf_counter()
        wait = 0.0
        while True:
            t = time.perf_counter()
            try:
                got = next(it)
            except StopIteration:
                break
            wait += time.perf_counter() - t
            yield self._move(*split_item(got, self.target))
        if shuffle:  # a training epoch: what the hint reads
            self.wait, self.elapsed = wait, time.perf_counter() - t0

    def slow_data_hint(self, epoch: int) -> str | None:
        """Once per run: the sentence to show when the last epoch waited on data most of the time."""
        if self._hinted or self.elapsed < HINT_MIN_EPOCH_S or self.wait < WAIT_SHARE * self.elapsed:
            return None
        cores = os.cpu_count() or 1
        if self.workers >= cores:
            return None
        self._hinted = True
        more = min(cores, max(2, 2 * self.workers))
        return (
            f"epoch {epoch} waited for data {self.wait / self.elapsed:.0%} of its {self.elapsed:.1f} s; "
            f"more DataLoader workers would help: workers={more} (--workers {more})."
        )

    def close(self) -> None:
        """End the persistent workers (a finished run keeps no processes); they restart when needed."""
        self._loaders.clear()
        self._stream = None
