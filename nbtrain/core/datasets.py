"""torch ``Dataset`` inputs: labels without a pre-pass, lazy splits, a DataLoader with workers.

Task and classes come, in this order, from a declaration (``task=``, ``classes=``), the loss or a
preset model, the torchvision convention (``dataset.targets`` / ``dataset.classes``, also through a
``Subset``; a two-tensor ``TensorDataset``'s second tensor); only where none of them tells may the
labels be read from the samples, once, with a warning that says so.  Splits are ``Subset`` indices.

>>> b = LoaderBatches(ds, 64, torch.Generator(), torch.device("cpu"), torch.long, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch.utils.data import IterableDataset, Subset, TensorDataset

from . import batch
from .errors import ConfigError, DataError, first_line

#: the "more workers would help" hint: the step waited on data for more than this share of an epoch
WAIT_SHARE = 0.5
#: ... of an epoch at least this long (seconds): shorter epochs are too noisy to judge
HINT_MIN_EPOCH_S = 0.5
#: samples read for the one-batch check before training
PROBE_ROWS = 8


class LabelsReadWarning(UserWarning):
    """nbtrain read every sample of a Dataset once to find its labels (no targets, no classes=)."""


def is_iterable(ds) -> bool:
    return isinstance(ds, IterableDataset)


def base(ds):
    """The dataset under any Subset wrappers."""
    while isinstance(ds, Subset):
        ds = ds.dataset
    return ds


def known_targets(ds):
    """Every target without reading a sample, as a numpy array, or None where the Dataset does not say."""
    if isinstance(ds, Subset):
        t = known_targets(ds.dataset)
        return None if t is None else t[np.asarray(ds.indices, dtype=np.int64)]
    if isinstance(ds, TensorDataset) and len(ds.tensors) == 2:
        t = ds.tensors[1]
    else:
        t = getattr(ds, "targets", None)
    if t is None or callable(t):
        return None
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        t = (t.float() if t.is_floating_point() else t).numpy()
    else:
        try:
            t = np.asarray(t)
        except (TypeError, ValueError):
            return None
    if t.ndim == 0 or is_iterable(ds) or len(t) != len(ds):
        return None  # not per-sample targets: fall back to the other sources
    return t


def known_classes(ds):
    """``dataset.classes`` (torchvision: the class names in index order), or None."""
    names = getattr(base(ds), "classes", None)
    if names is None or callable(names) or isinstance(names, (str, bytes)):
        return None
    try:
        names = list(names)
    except TypeError:
        return None
    return names if len(names) >= 2 else None


#: where dict items keep their target, in the order tried, when ``target=`` does not say
TARGET_KEYS = ("labels", "label")


def target_key(item, target: str | None, what: str = "data"):
    """The key of a dict item's target: ``target=``, else ``"labels"``, else ``"label"``."""
    keys = list(item.keys())
    if target is not None:
        if target not in item:
            raise DataError(
                f"{what}: the Dataset's items have no key {target!r} for target=; their keys are "
                f"{', '.join(map(repr, keys))}."
            )
        return target
    key = next((k for k in TARGET_KEYS if k in item), None)
    if key is None:
        raise DataError(
            f"{what}: the Dataset's dict items have no target under 'labels' or 'label' (keys: "
            f"{', '.join(map(repr, keys))}); name it with target='KEY' (--target KEY)."
        )
    return key


def split_item(item, target: str | None = None, what: str = "data", i: int = 0):
    """``(x, y)`` of one item (or one collated batch): an ``(x, y)`` pair, or a dict whose target is
    under ``target`` (default ``"labels"``, then ``"label"``) and whose other entries are ``x``."""
    if isinstance(item, Mapping):
        key = target_key(item, target, what)
        return {k: v for k, v in item.items() if k != key}, item[key]
    if isinstance(item, (tuple, list)) and len(item) == 2 and not hasattr(item, "_fields"):
        return item[0], item[1]
    raise DataError(
        f"{what}: a Dataset must yield (x, y) pairs or dicts with a 'labels' entry; item {i} is "
        f"{type(item).__name__}{f' of {len(item)}' if isinstance(item, (tuple, list)) else ''}."
    )


def _signature(x) -> tuple:
    return tuple((path, tuple(getattr(t, "shape", ()))) for path, t in batch.named_leaves(x))


def _show(sig) -> str:
    return ", ".join(f"{p + ' ' if p else ''}{shape}" for p, shape in sig)


def _check_item(item, i: int, what: str, shape0, target=None, collate=None):
    x, _ = split_item(item, target, what, i)
    for path, leaf in batch.named_leaves(x):
        ok = isinstance(leaf, (torch.Tensor, int, float, bool)) or (
            isinstance(leaf, np.ndarray) and leaf.dtype.kind in "biuf"
        )
        if not ok and collate is None:
            kind = type(leaf).__name__ if not isinstance(leaf, np.ndarray) else f"array of {leaf.dtype}"
            where = f"x[{path!r}]" if path else "x"
            raise DataError(
                f"{what}: item {i} has {where} of type {kind}; a Dataset must yield numeric tensors or arrays "
                "(or pass collate= to batch other items yourself)."
            )
    sig = _signature(x)
    if collate is None and shape0 is not None and sig != shape0:
        if [p for p, _ in sig] != [p for p, _ in shape0]:
            raise DataError(
                f"{what}: item {i} has inputs {', '.join(p or 'x' for p, _ in sig)} but item 0 has "
                f"{', '.join(p or 'x' for p, _ in shape0)}; every item must have the same inputs."
            )
        raise DataError(
            f"{what}: items do not stack: item {i} has x of shape {_show(sig)} but item 0 has {_show(shape0)}; "
            "give every sample the same shape, or pass collate= a function that batches them (e.g. pads "
            "sequences to the longest)."
        )
    return sig


def _label(y):
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu()  # a CUDA-resident target: numpy only on the host
        return y.item() if y.numel() == 1 else y.numpy()
    return np.asarray(y)


def read_labels(dataset, what: str = "data", target=None, collate=None) -> np.ndarray:
    """Read every sample once for its label (the fallback), checking each item; warns once that it did."""
    n = len(dataset)
    if n == 0:
        raise DataError(f"{what} is an empty Dataset.")
    warnings.warn(
        f"nbtrain read all {n} samples of the {type(base(dataset)).__name__} once to find its labels; give the "
        "Dataset a `targets` attribute, or declare classes=K / task='regression' (--classes, --task), to skip this.",
        LabelsReadWarning,
        stacklevel=2,
    )
    ys, shape0 = [], None
    for i in range(n):
        item = dataset[i]
        shape0 = _check_item(item, i, what, shape0, target, collate)
        ys.append(_label(split_item(item, target, what, i)[1]))
    try:
        return np.asarray(ys)
    except ValueError:
        raise DataError(f"{what}: the Dataset's targets have different shapes; give every sample the same.") from None


def probe_items(dataset, k: int, what: str = "data", target=None, collate=None):
    """The first ``k`` samples, checked and collated (``collate``, else torch's default): ``(xb, yb)``
    on their own device."""
    items, shape0 = [], None
    if is_iterable(dataset):
        for i, item in enumerate(dataset):
            shape0 = _check_item(item, i, what, shape0, target, collate)
            items.append(item)
            if len(items) == k:
                break
    else:
        n = len(dataset)
        if n == 0:
            raise DataError(f"{what} is an empty Dataset.")
        for i in range(min(k, n)):
            item = dataset[i]
            shape0 = _check_item(item, i, what, shape0, target, collate)
            items.append(item)
    if not items:
        raise DataError(f"{what} is an empty IterableDataset: it yielded no samples.")
    fn = collate or torch.utils.data.default_collate
    try:
        collated = fn(items)
    except (TypeError, RuntimeError, ValueError) as exc:
        by = "collate=" if collate is not None else "torch's default collate"
        raise DataError(f"{what}: {by} could not batch the first samples ({first_line(exc)}).") from None
    xb, yb = split_item(collated, target, what)
    if not isinstance(yb, torch.Tensor):
        kind = type(split_item(items[0], target, what)[1]).__name__
        raise DataError(f"{what}: targets must be numbers or tensors, got {kind}.")
    return xb, yb


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
        """The first samples, for the one-batch check before training (read once, in ``dataset_inputs``)."""
        if self._probe is None:
            self._probe = probe_items(self.dataset, PROBE_ROWS, target=self.target, collate=self.collate)
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
