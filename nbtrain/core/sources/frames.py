"""The DataFrame adapter: a pandas DataFrame plus ``target="COLUMN"``, and a CSV / TSV / Parquet file
(read by :mod:`.files` into a DataFrame), become a :class:`~.table.Table` whose ``X`` is the other
columns, kept as a DataFrame for column-wise preprocessing (``onehot``, ``drop:COLUMN``).
``target=["a", "b", "c"]``: several 0/1 columns, a multi-hot target whose classes they name.

>>> adapt(df, Context(target="species"))        # Table(X=df without species, y=species)  # doctest: +SKIP
"""

from __future__ import annotations

import os

from ..errors import DataError
from ..forms import is_dataframe
from .arrays import table
from .files import is_path, read_table
from .interface import Table


def claims(data) -> bool:
    return is_path(data) or is_dataframe(data)


def adapt(data, ctx) -> Table:
    what = ctx.what
    if is_path(data):
        where = f"{what} ({os.fspath(data)!r})"
        data = read_table(data, what)
        what = where
    target = ctx.target
    if target is None:
        raise DataError(
            f"{what} is a DataFrame without a target: pass target='COLUMN' (or --target COLUMN) or give (X, y)."
        )
    names = target if isinstance(target, list) else [target]  # a list: the 0/1 columns of a multi-hot target
    for name in names:
        if name not in data.columns:
            cols = ", ".join(map(str, list(data.columns)[:20]))
            raise DataError(f"target column {name!r} is not in {what}; its columns are {cols}.")
        if isinstance(data[name], type(data)):
            raise DataError(f"{what} has several columns named {name!r}; rename them so the target is one column.")
    if len(set(names)) < len(names):
        raise DataError(f"target= names a column twice ({target!r}); name each class column once.")
    y = data[names] if isinstance(target, list) else data[target]
    return table(data.drop(columns=names), y, what)
