"""Where an explanation's rows come from, and how to take some of them, whatever the inputs are.

- in-memory data: the rows of the split as declared (before preprocessing): an array, a DataFrame,
  or a tuple/dict of arrays (several inputs) with their structure kept;
- a torch ``Dataset`` (also a Hugging Face one): :class:`DatasetRows`, a view that reads an item when
  it is asked for, so that nothing beyond the split's outputs is held in memory.

>>> rows = DatasetRows(test_subset)        # doctest: +SKIP
>>> rows[3]                                # item 3's inputs, as the Dataset yields them
>>> take(rows, [3, 7])                     # items 3 and 7 batched (the run's collate), as arrays
"""

from __future__ import annotations

import numpy as np
import torch

from . import batch
from .errors import DataError, ExplainError
from .forms import is_dataframe as _is_dataframe
from .forms import split_item, take_rows


class DatasetRows:
    """The inputs of a Dataset split, read on demand: ``rows[i]`` is item ``i``'s ``x`` (its target
    left out: the ``target`` key of dict items, the second entry of ``(x, y)`` pairs).  ``take``
    batches some of them with the run's ``collate`` (torch's default otherwise)."""

    def __init__(self, dataset, target=None, collate=None):
        self.dataset, self.target, self.collate = dataset, target, collate

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        if isinstance(i, (int, np.integer)):
            n = len(self)
            if not -n <= int(i) < n:
                raise IndexError(f"row {int(i)} of a split of {n} rows")
            return self.item(int(i) % n)[0]
        raise TypeError("a Dataset split's rows are read one at a time (rows[i]); take(rows, [i, j]) batches some.")

    def item(self, i: int):
        """``(x, y)`` of item ``i``."""
        return split_item(self.dataset[i], self.target, "explain", i)

    def __repr__(self) -> str:
        return f"DatasetRows({type(self.dataset).__name__}, {len(self)} rows)"

    def batch(self, idx) -> tuple:
        """Items ``idx`` collated: ``(x, y)`` as tensors."""
        items = [self.dataset[int(i)] for i in idx]
        fn = self.collate or torch.utils.data.default_collate
        return split_item(fn(items), self.target, "explain")


def take(inputs, idx):
    """Rows ``idx`` of inputs of any kind: an array, a DataFrame, a structure of arrays, or a Dataset
    split (batched, then as numpy arrays)."""
    idx = np.asarray(idx, dtype=np.int64)
    if isinstance(inputs, DatasetRows):
        x, _ = inputs.batch(idx)
        return batch.apply(_numpy, x)
    if _is_dataframe(inputs) or batch.is_structure(inputs):
        return take_rows(inputs, idx)
    return np.asarray(inputs)[idx]


def _numpy(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return t


def structured(inputs) -> bool:
    """Several inputs (a tuple or dict of arrays), or the items of a Dataset split."""
    return isinstance(inputs, DatasetRows) or (batch.is_structure(inputs) and not _is_dataframe(inputs))


def split_inputs(run, on: str):
    """``(inputs, declared targets or None, rows)`` of a split: the declared rows of in-memory data, or
    a :class:`DatasetRows` of a Dataset split (its targets are read from the evaluation pass)."""
    batches = run._batches_for(on)  # the split's own errors: no such split, run deleted
    dataset = getattr(batches, "dataset", None)
    if dataset is not None:  # a torch Dataset (LoaderBatches)
        if isinstance(dataset, torch.utils.data.IterableDataset):
            raise ExplainError(
                f"run {run.name!r}'s {on} split is an IterableDataset, whose rows cannot be read by position; "
                "give the rows to explain: run.explain(data=(X, y))."
            )
        return DatasetRows(dataset, batches.target, batches.collate), None, None
    owner = getattr(batches, "owner", None)
    prepared = getattr(owner, "prepared", owner)
    raw = getattr(prepared, "raw", {}).get(on)
    if raw is None:
        raise DataError(
            f"run {run.name!r} keeps no declared rows of its {on} split; give them: run.explain(data=(X, y))."
        )
    table, rows = raw
    if rows is None:
        return table.X, table.y, None
    return take_rows(table.X, rows), table.y[rows], rows


def rebuild(template, leaves: list):
    """``template``'s structure with ``leaves`` (in :func:`batch.named_leaves` order) as its leaves."""
    it = iter(leaves)
    return batch.apply(lambda _: next(it), template)
