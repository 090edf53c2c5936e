"""The interface every adapter hands on: a :class:`Source` (:class:`Table`: rows in memory, or
:class:`~.torch_items.Items`: a torch ``Dataset`` read item by item), the :class:`Context` an adapter
is given, and :class:`Declared`, the adapted ``data`` / ``val_data`` / ``test_data``.

>>> Table(X, y).take([0, 2])                       # rows 0 and 2, as a Table     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .. import batch
from ..forms import is_inputs, take_rows


class Source(Protocol):
    """What every later stage may ask of an adapted source."""

    what: str  # "data" | "val_data" | "test_data": the name messages use
    in_memory: bool  # True: a Table (rows in memory); False: Items (a Dataset read item by item)

    def __len__(self) -> int: ...

    def known_targets(self):
        """Every target without reading a sample (a numpy array), or None where the source does not say."""


@dataclass(frozen=True)
class Context:
    """What an adapter may need besides the data itself."""

    target: Any = None  # target= : a DataFrame column, a dict item's key, a Hugging Face column
    what: str = "data"  # "data" | "val_data" | "test_data": the name messages use
    collate: Any = None  # collate= : batches a Dataset's items
    model: Any = None  # the declared model (which columns its forward takes)
    keep_columns: Any = None  # keep_columns= : Hugging Face columns to keep anyway


@dataclass(frozen=True)
class Declared:
    """The declared data, adapted: ``data`` and the explicit ``val`` / ``test`` sources (or None),
    the target's name as the sources carry it, and the classes a source itself names (or None)."""

    data: Any
    val: Any = None
    test: Any = None
    target: Any = None
    classes: Any = None


@dataclass
class Table:
    """In-memory data: ``X`` (a numpy array, a DataFrame, a scipy sparse matrix, or a tuple/dict of
    arrays) and ``y`` (a numpy array, one target a row); ``classes``: the names of a multi-hot
    target's columns where the source names them (a DataFrame of 0/1 columns), else None."""

    X: Any
    y: np.ndarray
    rows: Any = None  # positions of these rows in the table they were taken from (run.explain shows them)
    what: str = field(default="data", compare=False)
    classes: Any = field(default=None, compare=False)

    in_memory = True

    def __len__(self) -> int:
        return len(self.y)

    @property
    def structured(self) -> bool:
        return is_inputs(self.X)

    def known_targets(self) -> np.ndarray:
        return self.y

    def take(self, idx) -> Table:
        rows = np.asarray(idx) if self.rows is None else self.rows[idx]
        return Table(take_rows(self.X, idx), self.y[idx], rows, self.what, self.classes)


def rows(X) -> int:
    """The number of rows of features of any form."""
    return batch.rows(X) if batch.is_structure(X) else X.shape[0]
