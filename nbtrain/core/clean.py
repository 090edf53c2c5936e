"""Cleaning before the split: ``"dropna"`` and ``"drop_duplicates"`` remove rows of the whole data
(no statistics are learned, and dropping duplicates first keeps copies of a row out of both train
and test).  The first step after the labels are known, before :mod:`~nbtrain.core.splits`.

>>> apply_row_filters(table, parse("dropna"))        # the Table without rows holding NaN  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from .declared import PreprocessSpec
from .errors import DataError
from .forms import is_dataframe, is_sparse
from .sources import Table


def apply_row_filters(table: Table, spec: PreprocessSpec) -> Table:
    """Apply dropna / drop_duplicates to the whole data, before the split."""
    if not spec.row_filters:
        return table
    if table.structured or is_sparse(table.X):
        raise DataError(
            f"preprocessing {spec.text!r} works on one feature matrix; X has several inputs, so clean the "
            "rows before building it."
        )
    keep = np.ones(len(table), dtype=bool)
    X = table.X
    for name in spec.row_filters:
        if name == "dropna":
            if is_dataframe(X):
                bad = X.isna().to_numpy().any(axis=1)
            else:
                flat = X.reshape(len(X), -1)
                bad = ~np.isfinite(flat).all(axis=1) if flat.dtype.kind == "f" else np.zeros(len(X), bool)
            y = table.y
            if y.dtype.kind == "f":
                bad |= ~np.isfinite(y.reshape(len(y), -1)).all(axis=1)
            keep &= ~bad
        else:  # drop_duplicates: same features and same target
            flat = X.to_numpy() if is_dataframe(X) else X.reshape(len(X), -1)
            rows = [tuple(map(_hashable, r)) + (_hashable(t),) for r, t in zip(flat.tolist(), table.y.tolist())]
            seen, dup = set(), np.zeros(len(rows), bool)
            for i, r in enumerate(rows):
                dup[i] = r in seen
                seen.add(r)
            keep &= ~dup
    if not keep.any():
        raise DataError(f"preprocessing {spec.text!r} removed every row; check the data for missing values.")
    return table.take(np.flatnonzero(keep))


def _hashable(v):
    if isinstance(v, float) and v != v:
        return "nan"
    return tuple(v) if isinstance(v, list) else v
