"""Files as data: ``data="train.csv"`` (or ``.parquet``, ``.tsv``) is read with pandas into a DataFrame,
which then goes the DataFrame path (``target=``, presets, predict).

>>> read_table("train.csv", "data")          # doctest: +SKIP
"""

from __future__ import annotations

import os

from ..errors import DataError, first_line

READERS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def is_path(obj) -> bool:
    return isinstance(obj, (str, os.PathLike))


def read_table(path, what: str = "data"):
    """The file at ``path`` as a pandas DataFrame; one DataError for a missing, unknown or unreadable file."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in READERS:
        known = ", ".join(sorted(READERS))
        raise DataError(
            f"{what}={path!r}: files ending in {ext or '(no extension)'!r} are not read; use {known}, or load "
            "it yourself and give a DataFrame or (X, y)."
        )
    if not os.path.isfile(path):
        where = os.path.abspath(path)
        raise DataError(f"{what}={path!r}: there is no file at {where!r}.")
    try:
        import pandas as pd
    except ImportError:
        raise DataError(f"{what}={path!r}: reading files needs pandas: pip install 'nbtrain[files]'.") from None
    kind = READERS[ext]
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except ImportError as exc:  # no pyarrow / fastparquet
        raise DataError(
            f"{what}={path!r}: reading Parquet needs pyarrow: pip install 'nbtrain[files]' ({first_line(exc)})."
        ) from None
    except Exception as exc:  # pandas' parser errors have many types
        raise DataError(f"{what}={path!r} could not be read as {kind}: {first_line(exc)}") from None
