"""Data adapters, label encoding, seeded (stratified) splits and index batching.

Accepted inputs: ``(X, y)`` with numpy arrays, torch tensors, lists or pandas objects; a pandas
DataFrame plus a target column name; a CSV or Parquet file (read with pandas, then as a DataFrame);
a ``torch.utils.data.Dataset`` yielding ``(x, y)`` pairs (see :mod:`~nbtrain.core.datasets`).
In-memory data is moved to the device once and batched by slicing a per-epoch permutation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import batch
from .errors import ConfigError, DataError, DataTypeError
from .files import is_path


def _is_dataframe(obj) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "iloc")


def _is_series(obj) -> bool:
    return type(obj).__name__ == "Series" and hasattr(obj, "iloc")


def is_dataset(obj) -> bool:
    return isinstance(obj, torch.utils.data.Dataset) and not isinstance(obj, (tuple, list))


def _to_numpy(obj, what: str) -> np.ndarray:
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu()
        if obj.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
            obj = obj.float()
        return obj.numpy()
    if _is_series(obj):
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


@dataclass
class Table:
    """In-memory data: ``X`` (a numpy array, a DataFrame, or a tuple/dict of arrays) and ``y``."""

    X: Any
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @property
    def structured(self) -> bool:
        return is_inputs(self.X)

    def take(self, idx) -> Table:
        return Table(take_rows(self.X, idx), self.y[idx])


def take_rows(X, idx):
    """Rows ``idx`` of features of any form (array, DataFrame, sparse matrix, structure of them)."""
    if batch.is_structure(X):
        return batch.apply(lambda a: take_rows(a, idx), X)
    return X.iloc[idx] if _is_dataframe(X) else X[idx]


def structured_features(X, what: str = "X"):
    """A tuple/list/dict of inputs: every entry as an array, all with the same number of rows
    (a mismatch names the entries and their lengths)."""
    named = batch.named_leaves(X)
    if not named:
        raise DataError(f"{what} is an empty {type(X).__name__}; give at least one input array.")
    out = batch.apply(lambda a: as_features(a.to_numpy() if _is_dataframe(a) else a, what, keep_1d=True), X)
    lengths = [(path, len(a)) for path, a in batch.named_leaves(out)]
    if len({n for _, n in lengths}) > 1:
        listed = ", ".join(f"{path or 'X'} has {n}" for path, n in lengths)
        raise DataError(
            f"{what}'s entries have different numbers of rows ({listed}); give every entry one row per sample."
        )
    return out


def as_features(X, what: str = "X", keep_1d: bool = False):
    """Return X as a DataFrame (kept, for column-wise preprocessing), a scipy sparse matrix (kept
    sparse), a structure of arrays (a tuple/list/dict of inputs) or a numpy array.  ``keep_1d``: an
    entry of a structure may be one value per row (a categorical index)."""
    if _is_dataframe(X) or is_sparse(X):
        return X
    if is_inputs(X) and not keep_1d:
        return structured_features(X, what)
    arr = _to_numpy(X, what)
    if arr.ndim == 0:
        raise DataError(f"{what} is a scalar; give one row per sample.")
    if arr.ndim == 1 and not keep_1d:
        arr = arr.reshape(-1, 1)
    return arr


def _length(y):
    try:
        return len(y)
    except TypeError:
        return None


def stacked_rows(X, n_rows=None):
    """A list of same-shaped arrays, one per row (``[img0, img1, ...]``), is one array of rows, not
    several inputs: stacked.  A list whose entries each hold every row (``[num, cat]``) is left as it is."""
    if not isinstance(X, list) or not X or not is_inputs(X) or any(isinstance(a, dict) for a in X):
        return X
    shapes = {tuple(getattr(a, "shape", ())) for a in X}
    if len(shapes) != 1:
        return X
    first = next(iter(shapes))[:1]  # an entry holding every row starts with the row count
    if n_rows is not None and (len(X) != n_rows or first == (n_rows,)):
        return X
    return np.stack([_to_numpy(a, "X row") for a in X])


def is_inputs(X) -> bool:
    """Several inputs: a dict, or a tuple/list whose entries are arrays, tensors, frames or dicts
    (a list of numbers or of lists of numbers is rows of one array)."""
    from collections.abc import Mapping

    if isinstance(X, Mapping):
        return True
    if isinstance(X, (tuple, list)) and X:
        return all(
            isinstance(v, (torch.Tensor, np.ndarray, Mapping)) or _is_dataframe(v) or _is_series(v) or is_inputs(v)
            for v in X
        )
    return False


def is_sparse(X) -> bool:
    """A scipy sparse matrix or array (TF-IDF, one-hot output), without importing scipy."""
    return type(X).__module__.startswith("scipy.sparse") and hasattr(X, "tocsr")


def adapt(data, target: str | None = None, what: str = "data"):
    """Turn declared data into a :class:`Table` or leave a ``Dataset`` as it is."""
    if data is None:
        raise DataError(
            f"no {what} was given: declare e.g. `{what} = (X, y)` or `{what} = load_iris(return_X_y=True)`."
        )
    if is_path(data):
        from .files import read_table

        where = f"{what} ({os.fspath(data)!r})"
        data = read_table(data, what)
        what = where
    if is_dataset(data):
        if target is not None and not isinstance(target, str):
            raise ConfigError(f"target= names the key of a Dataset's dict items, got {target!r:.60}.")
        return data  # target= names the key of its dict items (see datasets.split_item)
    if _is_dataframe(data):
        if target is None:
            raise DataError(
                f"{what} is a DataFrame without a target: pass target='COLUMN' (or --target COLUMN) or give (X, y)."
            )
        if target not in data.columns:
            cols = ", ".join(map(str, list(data.columns)[:20]))
            raise DataError(f"target column {target!r} is not in {what}; its columns are {cols}.")
        if isinstance(data[target], type(data)):
            raise DataError(f"{what} has several columns named {target!r}; rename them so the target is one column.")
        X, y = data.drop(columns=[target]), data[target]
    elif hasattr(data, "data") and hasattr(data, "target") and not isinstance(data, (tuple, list)):
        X, y = data.data, data.target  # a scikit-learn Bunch
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
    else:
        raise DataTypeError(
            f"{what} has unsupported form {type(data).__name__}; give (X, y), a DataFrame with "
            "target='COLUMN', a scikit-learn Bunch or a torch Dataset."
        )
    if _is_dataframe(X) and X.columns.duplicated().any():
        dup = X.columns[X.columns.duplicated()][0]
        raise DataError(f"{what} X has several columns named {dup!r}; give every column a unique name.")
    X = as_features(stacked_rows(X, _length(y)), f"{what} X")
    y = _to_numpy(y, f"{what} y")
    if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind not in "f":
        y = y[:, 0]
    if y.dtype.kind == "b" and y.ndim >= 2:
        y = y.astype(np.int64)  # a boolean multi-hot matrix
    if y.ndim == 0:
        raise DataError(f"{what} y must have one target per row (1-D), or per row and position; got a scalar.")
    n_x = batch.rows(X) if batch.is_structure(X) else X.shape[0]
    if n_x != len(y):
        raise DataError(f"{what} has {n_x} rows of X but {len(y)} targets; they must match one to one.")
    if len(y) == 0:
        raise DataError(f"{what} is empty: it has no rows.")
    for path, a in batch.named_leaves(X) if batch.is_structure(X) else [("", X)]:
        if not _is_dataframe(a) and a.dtype.kind not in "biuf":
            where = f"{what} X{'[' + repr(path) + ']' if path else ''}"
            raise DataError(
                f"{where} has non-numeric values (dtype {a.dtype}); use a DataFrame with "
                "preprocess='onehot' for categorical columns, or convert X to numbers."
            )
    return Table(X, y)


# ---------------------------------------------------------------------------------- labels

CLASSIFICATION, REGRESSION = "classification", "regression"


def infer_task(y: np.ndarray) -> str:
    """Integer, boolean or string labels mean classification; float targets mean regression."""
    return REGRESSION if y.dtype.kind in "fc" else CLASSIFICATION


class LabelCodec:
    """Maps arbitrary labels to 0..K-1 and back (sorted like ``np.unique``)."""

    def __init__(self, classes: np.ndarray):
        self.classes = np.asarray(classes)

    @classmethod
    def fit(cls, *ys: np.ndarray) -> LabelCodec:
        y = np.concatenate([np.asarray(v).ravel() for v in ys if v is not None])
        if y.dtype.kind == "O":
            kinds = {type(v) for v in y}
            if len(kinds) > 1:
                names = ", ".join(sorted(k.__name__ for k in kinds))
                raise DataError(f"labels mix types ({names}); convert them to one type, e.g. y.astype(str).")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise DataError("labels contain NaN; drop those rows or fill them before training.")
        try:
            classes = np.unique(y)
        except TypeError:
            raise DataError("labels cannot be sorted; convert them to strings or integers.") from None
        if len(classes) < 2:
            raise DataError(f"classification needs at least two classes, but every label is {classes[0]!r}.")
        return cls(classes)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def encode(self, y: np.ndarray, what: str = "labels") -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1:
            raise DataError(f"classification {what} must be 1-D, one label per row; got shape {y.shape}.")
        idx = np.searchsorted(self.classes, y)
        idx = np.clip(idx, 0, len(self.classes) - 1)
        bad = self.classes[idx] != y
        if np.any(bad):
            unknown = np.unique(y[bad])[:5]
            raise DataError(f"{what} contain labels not seen in training: {', '.join(map(repr, unknown.tolist()))}.")
        return idx.astype(np.int64)

    def decode(self, idx) -> np.ndarray:
        return self.classes[np.asarray(idx, dtype=np.int64)]


# ---------------------------------------------------------------------------------- splits


def _part_size(n: int, fraction: float, what: str) -> int:
    """Rows in a split of ``fraction`` of ``n``; both sides must keep at least one row."""
    n_part = int(round(fraction * n))
    if n_part == 0:
        raise ConfigError(f"{what}={fraction} of {n} rows is no rows; use a larger fraction or give {what}_data.")
    if n - n_part < 1:
        raise ConfigError(f"{what}={fraction} leaves no training rows out of {n}; use a smaller fraction.")
    return n_part


def split(table: Table, fraction: float, seed: int, stratify: bool, what: str):
    """Split off ``fraction`` of the rows (stratified for classification).  Returns (rest, part)."""
    from sklearn.model_selection import train_test_split

    n = len(table)
    n_part = _part_size(n, fraction, what)
    idx = np.arange(n)
    strat = table.y if stratify else None
    if strat is not None:
        _, counts = np.unique(strat, return_counts=True)
        n_classes = len(counts)
        if counts.min() < 2 or n_part < n_classes or n - n_part < n_classes:
            strat = None  # too few rows per class to stratify: fall back to a plain seeded split
    rest, part = train_test_split(idx, test_size=n_part, random_state=seed, shuffle=True, stratify=strat)
    return table.take(np.sort(rest)), table.take(np.sort(part))


# ---------------------------------------------------------------------------------- batching


#: a shuffled epoch gathers rows in chunks of at most this share of the data, this many bytes, this many batches
CHUNK_SHARE, CHUNK_MAX_BYTES, CHUNK_MAX_BATCHES = 0.02, 32 << 20, 64


class TensorBatches:
    """In-memory tensors batched by index: a shuffled epoch gathers the rows of a permutation chunk by
    chunk (a few batches at a time, never a copy of the whole training set), an ordered pass takes views.

    ``X`` is a tensor or a structure of tensors (a tuple or dict of inputs, see :mod:`.batch`), ``y`` a
    tensor.  They live on ``device`` (moved once), or on the host when ``device`` is another one
    (``data_device="cpu"``): then each batch is gathered into pinned memory and copied non-blocking,
    so the copy overlaps the previous step.  ``owner`` keeps the shared copy they belong to alive.
    """

    def __init__(self, X, y: torch.Tensor, batch_size: int, generator: torch.Generator, device=None, owner=None):
        self.X, self.y, self.batch_size, self.generator = X, y, batch_size, generator
        self.device = batch.first(X).device if device is None else torch.device(device)
        self.owner = owner
        self.n = len(y)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    @property
    def host(self) -> bool:
        """True when the rows stay on the host and go to the device per batch."""
        where = batch.first(self.X).device
        return where != self.device and where.type == "cpu"

    def probe(self, n: int = 8):
        """The first ``n`` training rows, for the one-batch check before training."""
        return self._move(batch.take(self.X, 0, n)), self._move(self.y[:n])

    def _move(self, x, idx=None):
        """Rows ``idx`` of ``x`` (all of it when None; a tensor or a structure) on the device."""
        if isinstance(x, torch.Tensor):
            return self._move_one(x, idx)
        return batch.apply(lambda t: self._move_one(t, idx), x)

    def _move_one(self, t: torch.Tensor, idx=None) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):  # sparse rows: gathered dense where they live, then copied
            rows = t[:] if idx is None else t.index_select(0, idx)
            return rows.to(self.device)
        if t.device == self.device or not self.host:
            return t if idx is None else t.index_select(0, idx)
        pin = self.device.type == "cuda"
        rows = len(t) if idx is None else len(idx)
        buf = torch.empty((rows,) + tuple(t.shape[1:]), dtype=t.dtype, pin_memory=pin)
        torch.index_select(t, 0, idx, out=buf) if idx is not None else buf.copy_(t)
        return buf.to(self.device, non_blocking=pin)

    def chunk_batches(self) -> int:
        """Batches gathered at once in a shuffled epoch: at most 2% of the rows' bytes (and 32 MB),
        at most 64 batches: a bounded extra copy, and one gather per chunk instead of one per batch."""
        if self.n == 0:
            return 1
        row = batch.row_bytes(self.X) + self.y[:1].numel() * self.y.element_size()
        budget = min(CHUNK_MAX_BYTES, CHUNK_SHARE * self.n * row)
        return max(1, min(CHUNK_MAX_BATCHES, int(budget // max(1, self.batch_size * row))))

    def epoch(self, shuffle: bool = True):
        bs, n = self.batch_size, self.n
        single = isinstance(self.X, torch.Tensor)
        if shuffle and bs < n:  # one batch of every row ("gd"): the order does not matter
            perm = torch.randperm(n, generator=self.generator)
            if not self.host:
                perm = perm.to(self.y.device, non_blocking=True)
            step = bs * self.chunk_batches()
            for c in range(0, n, step):
                idx = perm[c : c + step]
                Xc, yc = self._move(self.X, idx), self._move_one(self.y, idx)
                for i in range(0, len(idx), bs):
                    yield (Xc[i : i + bs] if single else batch.take(Xc, i, i + bs)), yc[i : i + bs]
            return
        for i in range(0, n, bs):
            x = self.X[i : i + bs] if single else batch.take(self.X, i, i + bs)
            yield self._move(x), self._move_one(self.y[i : i + bs])
