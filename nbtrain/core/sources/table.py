"""The two forms every adapter hands on: :class:`Table` (rows in memory) and :class:`Items` (a torch
``Dataset`` read item by item).  Both have what the later stages ask of a source: ``what`` (its name
in messages), ``in_memory``, ``len()`` and ``known_targets()`` (every target without reading a
sample, or None).

>>> Table(X, y).take([0, 2])                       # rows 0 and 2, as a Table     # doctest: +SKIP
>>> Items(ds, target="labels").probe()             # (xb, yb): the first items, collated
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import batch
from ..forms import is_inputs, take_rows


@dataclass
class Table:
    """In-memory data: ``X`` (a numpy array, a DataFrame, a scipy sparse matrix, or a tuple/dict of
    arrays) and ``y`` (a numpy array, one target a row)."""

    X: Any
    y: np.ndarray
    rows: Any = None  # positions of these rows in the table they were taken from (run.explain shows them)
    what: str = field(default="data", compare=False)

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
        return Table(take_rows(self.X, idx), self.y[idx], rows, self.what)


class Items:
    """A torch ``Dataset`` whose items are ``(x, y)`` pairs or dicts with the target under ``target``;
    ``collate`` batches them (torch's default collate when None); ``classes`` are the class names
    its adapter found (a Hugging Face ``ClassLabel``, torchvision's ``dataset.classes``) or None.

    Nothing is read when it is made: the first items are read by :meth:`probe`, once."""

    in_memory = False

    def __init__(self, dataset, *, target=None, collate=None, classes=None, what: str = "data"):
        self.dataset, self.target, self.collate, self.classes, self.what = dataset, target, collate, classes, what
        self._probe = None

    def __len__(self) -> int:
        return len(self.dataset)

    def known_targets(self):
        from .torch_items import known_targets

        return known_targets(self.dataset)

    def probe(self):
        """``(xb, yb)``: the first items, checked and collated (read once, then kept)."""
        if self._probe is None:
            from .torch_items import PROBE_ROWS, probe_items

            self._probe = probe_items(self.dataset, PROBE_ROWS, self.what, target=self.target, collate=self.collate)
        return self._probe

    def read_labels(self):
        """Every item's target, read once (the fallback where nothing else tells them; it warns)."""
        from .torch_items import read_labels

        return read_labels(self.dataset, self.what, target=self.target, collate=self.collate)


def rows(X) -> int:
    """The number of rows of features of any form."""
    return batch.rows(X) if batch.is_structure(X) else X.shape[0]
