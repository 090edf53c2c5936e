"""The DataFrame adapter: a pandas DataFrame plus ``target="COLUMN"``, and a CSV / TSV / Parquet file
(read by :mod:`.files` into a DataFrame), become a :class:`~.table.Table` whose ``X`` is the other
columns, kept as a DataFrame for column-wise preprocessing (``onehot``, ``drop:COLUMN``).

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
    if target not in data.columns:
        cols = ", ".join(map(str, list(data.columns)[:20]))
        raise DataError(f"target column {target!r} is not in {what}; its columns are {cols}.")
    if isinstance(data[target], type(data)):
        raise DataError(f"{what} has several columns named {target!r}; rename them so the target is one column.")
    return table(data.drop(columns=[target]), data[target], what)
