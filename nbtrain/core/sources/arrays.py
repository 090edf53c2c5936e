"""The in-memory adapter: ``(X, y)`` and a scikit-learn Bunch become a :class:`~.table.Table`.

``X`` may be a numpy array, a torch tensor, a list, a pandas DataFrame, a scipy sparse matrix (kept
sparse) or several inputs (a tuple/list/dict of those, nested too: every entry with the same number
of rows); ``y`` an array, tensor, Series or list.  :func:`table` is also where the DataFrame and file
adapters (:mod:`.frames`) end: the one set of checks every in-memory source passes.

>>> adapt((X, y), Context())        # Table(X=..., y=...)     # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from .. import batch
from ..errors import DataError
from ..forms import is_dataframe, is_inputs, is_sparse, to_numpy
from .interface import Table, rows


def is_bunch(data) -> bool:
    return hasattr(data, "data") and hasattr(data, "target") and not isinstance(data, (tuple, list))


def claims(data) -> bool:
    return is_bunch(data) or (isinstance(data, (tuple, list)) and len(data) == 2)


def adapt(data, ctx) -> Table:
    X, y = (data.data, data.target) if is_bunch(data) else data
    return table(X, y, ctx.what)


def structured_features(X, what: str = "X"):
    """A tuple/list/dict of inputs: every entry as an array, all with the same number of rows
    (a mismatch names the entries and their lengths)."""
    named = batch.named_leaves(X)
    if not named:
        raise DataError(f"{what} is an empty {type(X).__name__}; give at least one input array.")
    out = batch.apply(lambda a: as_features(a.to_numpy() if is_dataframe(a) else a, what, keep_1d=True), X)
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
    if is_dataframe(X) or is_sparse(X):
        return X
    if is_inputs(X) and not keep_1d:
        return structured_features(X, what)
    arr = to_numpy(X, what)
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
    return np.stack([to_numpy(a, "X row") for a in X])


def table(X, y, what: str) -> Table:
    """``X`` and ``y`` checked into a Table: features of a known form, one target a row, numbers."""
    if is_dataframe(X) and X.columns.duplicated().any():
        dup = X.columns[X.columns.duplicated()][0]
        raise DataError(f"{what} X has several columns named {dup!r}; give every column a unique name.")
    X = as_features(stacked_rows(X, _length(y)), f"{what} X")
    y, classes = target_columns(y, what)
    if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind not in "f":
        y = y[:, 0]
    if y.dtype.kind == "b" and y.ndim >= 2:
        y = y.astype(np.int64)  # a boolean multi-hot matrix
    if y.ndim == 0:
        raise DataError(f"{what} y must have one target per row (1-D), or per row and position; got a scalar.")
    n_x = rows(X)
    if n_x != len(y):
        raise DataError(f"{what} has {n_x} rows of X but {len(y)} targets; they must match one to one.")
    if len(y) == 0:
        raise DataError(f"{what} is empty: it has no rows.")
    for path, a in batch.named_leaves(X) if batch.is_structure(X) else [("", X)]:
        if not is_dataframe(a) and a.dtype.kind not in "biuf":
            where = f"{what} X{'[' + repr(path) + ']' if path else ''}"
            raise DataError(
                f"{where} has non-numeric values (dtype {a.dtype}); use a DataFrame with "
                "preprocess='onehot' for categorical columns, or convert X to numbers."
            )
    return Table(X, y, what=what.split(" ")[0], classes=classes)


def target_columns(y, what: str):
    """``(y as an array, the class names)``: a DataFrame of several columns is a multi-hot matrix whose
    classes are its column names (one column is that column's values); other targets name no classes."""
    if not is_dataframe(y):
        return to_numpy(y, f"{what} y"), None
    if y.shape[1] == 1:
        return y.iloc[:, 0].to_numpy(), None
    if y.columns.duplicated().any():
        dup = y.columns[y.columns.duplicated()][0]
        raise DataError(f"{what} y has several columns named {dup!r}; give every class column a unique name.")
    return y.to_numpy(), list(y.columns)
