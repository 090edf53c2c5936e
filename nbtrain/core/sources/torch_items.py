"""The torch ``Dataset`` adapter: a Dataset yielding ``(x, y)`` pairs (any structure of ``x``) or dicts
with the target under ``target=`` (default ``"labels"``, then ``"label"``) becomes an
:class:`~.table.Items` source.  Nothing is read when it is adapted; the first items are read by
``Items.probe`` (checked here: numeric leaves, items that stack), and what the Dataset says about its
targets without reading a sample (``known_targets``: torchvision's ``targets``, a two-tensor
``TensorDataset``; ``known_classes``: ``dataset.classes``).  Only where nothing tells may every label
be read, once, with a warning (``read_labels``).

>>> adapt(ds, Context(target="labels"))           # an Items source      # doctest: +SKIP
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch.utils.data import IterableDataset, Subset, TensorDataset

from .. import batch
from ..errors import ConfigError, DataError, first_line
from ..forms import base, is_dataset, is_iterable, split_item


class Items:
    """A torch ``Dataset`` whose items are ``(x, y)`` pairs or dicts with the target under ``target``;
    ``collate`` batches them (torch's default collate when None); ``classes`` are the class names
    its adapter found (a Hugging Face ``ClassLabel``, torchvision's ``dataset.classes``) or None.

    Nothing is read when it is made: the first items are read by :meth:`probe`, once."""

    in_memory = False

    def __init__(self, dataset, *, target=None, collate=None, classes=None, what: str = "data"):
        self.dataset, self.target, self.collate, self.classes, self.what = dataset, target, collate, classes, what
        self._probe = None

    def __len__(self) -> int:
        return len(self.dataset)

    def known_targets(self):
        return known_targets(self.dataset)

    def probe(self):
        """``(xb, yb)``: the first items, checked and collated (read once, then kept)."""
        if self._probe is None:
            self._probe = probe_items(self.dataset, PROBE_ROWS, self.what, target=self.target, collate=self.collate)
        return self._probe

    def read_labels(self):
        """Every item's target, read once (the fallback where nothing else tells them; it warns)."""
        return read_labels(self.dataset, self.what, target=self.target, collate=self.collate)


def claims(data) -> bool:
    return is_dataset(data)


def adapt(data, ctx) -> Items:
    if ctx.target is not None and not isinstance(ctx.target, str):
        raise ConfigError(f"target= names the key of a Dataset's dict items, got {ctx.target!r:.60}.")
    return Items(data, target=ctx.target, collate=ctx.collate, classes=known_classes(data), what=ctx.what)


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


#: samples read for the one-batch check before training
PROBE_ROWS = 8


class LabelsReadWarning(UserWarning):
    """nbtrain read every sample of a Dataset once to find its labels (no targets, no classes=)."""


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
    if isinstance(dataset, IterableDataset):
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
