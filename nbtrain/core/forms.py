"""What forms data takes: the type tests and conversions every stage of the data path may ask.

This module holds vocabulary, not a stage: it never calls into the data path
(:mod:`~nbtrain.core.sources`, splits, preprocessing, batches), so any stage may use it without
the data going back to an earlier one.  pandas, scipy and ``datasets`` are told apart without
importing them.

>>> is_inputs({"num": num, "cat": cat}), is_sparse(tfidf), split_item({"ids": ids, "labels": 1})  # doctest: +SKIP
(True, True, ({'ids': ids}, 1))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from . import batch
from .errors import DataError, DataTypeError


def is_dataframe(obj) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "iloc")


def is_series(obj) -> bool:
    return type(obj).__name__ == "Series" and hasattr(obj, "iloc")


def is_dataset(obj) -> bool:
    """A torch ``Dataset`` (map-style or iterable)."""
    return isinstance(obj, torch.utils.data.Dataset) and not isinstance(obj, (tuple, list))


def is_iterable(ds) -> bool:
    """A torch ``IterableDataset``: no length, no indices."""
    return isinstance(ds, torch.utils.data.IterableDataset)


def base(ds):
    """The dataset under any ``Subset`` wrappers."""
    while isinstance(ds, torch.utils.data.Subset):
        ds = ds.dataset
    return ds


def is_sparse(X) -> bool:
    """A scipy sparse matrix or array (TF-IDF, one-hot output), without importing scipy."""
    return type(X).__module__.startswith("scipy.sparse") and hasattr(X, "tocsr")


def is_inputs(X) -> bool:
    """Several inputs: a dict, or a tuple/list whose entries are arrays, tensors, frames or dicts
    (a list of numbers or of lists of numbers is rows of one array)."""
    if isinstance(X, Mapping):
        return True
    if isinstance(X, (tuple, list)) and X:
        return all(
            isinstance(v, (torch.Tensor, np.ndarray, Mapping)) or is_dataframe(v) or is_series(v) or is_inputs(v)
            for v in X
        )
    return False


def to_numpy(obj, what: str) -> np.ndarray:
    """An array, tensor, Series or list as a numpy array; one error naming ``what`` otherwise."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu()
        if obj.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
            obj = obj.float()
        return obj.numpy()
    if is_series(obj):
        return obj.to_numpy()
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, (list, tuple)):
        try:
            return np.asarray(obj)
        except ValueError:
            raise DataError(f"{what} is a ragged list; give a rectangular array.") from None
    if obj is None:
        raise DataError(f"{what} is missing.")
    raise DataTypeError(
        f"{what} has unsupported type {type(obj).__name__}; use a numpy array, a torch tensor, "
        "a pandas DataFrame/Series or a list."
    )


def take_rows(X, idx):
    """Rows ``idx`` of features of any form (array, DataFrame, sparse matrix, structure of them)."""
    if batch.is_structure(X):
        return batch.apply(lambda a: take_rows(a, idx), X)
    return X.iloc[idx] if is_dataframe(X) else X[idx]


# ---------------------------------------------------------------------------------- items

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
