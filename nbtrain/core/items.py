"""What a torch ``Dataset``'s items are: ``(x, y)`` pairs with any structure of ``x``, or dicts whose
target sits under ``target=`` (default ``"labels"``, then ``"label"``); the checks on the first items
(the probe batch), and the one read of every label where nothing else tells them.

>>> split_item({"input_ids": ids, "labels": 1})      # ({"input_ids": ids}, 1)   # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch.utils.data import IterableDataset, Subset

from . import batch
from .errors import DataError, first_line

#: samples read for the one-batch check before training
PROBE_ROWS = 8


class LabelsReadWarning(UserWarning):
    """nbtrain read every sample of a Dataset once to find its labels (no targets, no classes=)."""


def _base(ds):
    while isinstance(ds, Subset):
        ds = ds.dataset
    return ds


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
        f"nbtrain read all {n} samples of the {type(_base(dataset)).__name__} once to find its labels; give the "
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
