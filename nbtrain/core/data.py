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
    """In-memory data: ``X`` (numpy array or DataFrame) and ``y`` (numpy array)."""

    X: Any
    y: np.ndarray
    rows: Any = None  # positions of these rows in the table they were taken from (run.explain shows them)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx) -> Table:
        X = self.X.iloc[idx] if _is_dataframe(self.X) else self.X[idx]
        rows = np.asarray(idx) if self.rows is None else self.rows[idx]
        return Table(X, self.y[idx], rows)


def as_features(X, what: str = "X"):
    """Return X as a DataFrame (kept, for column-wise preprocessing) or a numpy array."""
    if _is_dataframe(X):
        return X
    arr = _to_numpy(X, what)
    if arr.ndim == 0:
        raise DataError(f"{what} is a scalar; give one row per sample.")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    return arr


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
        if target is not None:
            raise ConfigError("target= names a DataFrame column; it cannot be used with a torch Dataset.")
        return data
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
    X = as_features(X, f"{what} X")
    y = _to_numpy(y, f"{what} y")
    if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind not in "f":
        y = y[:, 0]
    if y.ndim == 0 or y.ndim > 2:
        raise DataError(f"{what} y must be 1-D (one label per row) or 2-D for several targets; got shape {y.shape}.")
    if len(X) != len(y):
        raise DataError(f"{what} has {len(X)} rows of X but {len(y)} targets; they must match one to one.")
    if len(y) == 0:
        raise DataError(f"{what} is empty: it has no rows.")
    if not _is_dataframe(X) and X.dtype.kind not in "biuf":
        raise DataError(
            f"{what} X has non-numeric values (dtype {X.dtype}); use a DataFrame with "
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

    ``X`` and ``y`` live on ``device`` (moved once), or on the host when ``device`` is another one
    (``data_device="cpu"``): then each batch is gathered into pinned memory and copied non-blocking,
    so the copy overlaps the previous step.  ``owner`` keeps the shared copy they belong to alive.
    """

    def __init__(
        self, X: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator, device=None, owner=None
    ):
        self.X, self.y, self.batch_size, self.generator = X, y, batch_size, generator
        self.device = X.device if device is None else torch.device(device)
        self.owner = owner
        self.n = len(X)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    @property
    def host(self) -> bool:
        """True when the rows stay on the host and go to the device per batch."""
        return self.X.device != self.device and self.X.device.type == "cpu"

    def probe(self, n: int = 8):
        """The first ``n`` training rows, for the one-batch check before training."""
        return self._move(self.X[:n]), self._move(self.y[:n])

    def _move(self, t: torch.Tensor, idx=None) -> torch.Tensor:
        """Rows ``idx`` of ``t`` (all of it when None) on the device."""
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
        row = self.X[:1].numel() * self.X.element_size() + self.y[:1].numel() * self.y.element_size()
        budget = min(CHUNK_MAX_BYTES, CHUNK_SHARE * self.n * row)
        return max(1, min(CHUNK_MAX_BATCHES, int(budget // max(1, self.batch_size * row))))

    def epoch(self, shuffle: bool = True):
        bs, n = self.batch_size, self.n
        if shuffle and bs < n:  # one batch of every row ("gd"): the order does not matter
            perm = torch.randperm(n, generator=self.generator)
            if not self.host:
                perm = perm.to(self.X.device, non_blocking=True)
            step = bs * self.chunk_batches()
            for c in range(0, n, step):
                idx = perm[c : c + step]
                Xc, yc = self._move(self.X, idx), self._move(self.y, idx)
                for i in range(0, len(idx), bs):
                    yield Xc[i : i + bs], yc[i : i + bs]
            return
        for i in range(0, n, bs):
            yield self._move(self.X[i : i + bs]), self._move(self.y[i : i + bs])
