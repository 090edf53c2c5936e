"""Permutation importance of a run's inputs, whatever their structure (scikit-learn's
``permutation_importance`` does the shuffling, the repeats and the statistics).

A *feature* is what one shuffle moves between rows:

- tabular inputs (a 2-D array or a DataFrame): a column, as scikit-learn does it;
- several inputs (a tuple or dict of arrays, nested too): an input, named by its key (``"num"``,
  ``"[0]"``, ``"inputs.ids"``): the whole entry of a row moves to another row; ``columns=True`` splits
  every 2-D floating entry into its columns (``"num[0]"``, ``"num[1]"``, ...);
- a torch Dataset split: the same, over the items' inputs (a bare 1-D floating input: its columns),
  items read one at a time through a view that swaps the shuffled entry in: the split is never held
  in memory.

For the last two, scikit-learn shuffles a matrix of row numbers (one column per feature) and the
estimator here reads each feature's rows through its column: the same draws, repeats and statistics
as scikit-learn's own, for inputs it cannot hold.

>>> permutation_frame(ex, n_repeats=5)           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import torch

from . import batch
from .errors import ExplainError
from .explain_data import DatasetRows, rebuild
from .forms import split_item, target_key


class Feature(NamedTuple):
    name: str
    path: str  # the leaf's path in x ("" for a bare input)
    column: int | None  # one column of the leaf, or the whole leaf


def _floating(a) -> bool:
    kind = a.dtype.kind if isinstance(a, np.ndarray) else ("f" if torch.is_tensor(a) and a.is_floating_point() else "")
    return kind == "f"


def features_of(inputs, columns: bool = False) -> list:
    """The features of a structure of arrays (rows first), or of a Dataset split (read from item 0)."""
    if isinstance(inputs, DatasetRows):
        x = inputs[0]
        if not batch.is_structure(x):  # a bare input of every item: a table's row when it is 1-D
            if torch.is_tensor(x) or isinstance(x, np.ndarray):
                if x.ndim == 1 and _floating(x):
                    return [Feature(f"x{c}", "", c) for c in range(x.shape[0])]
            raise ExplainError(
                "importance shuffles inputs between items; these items have one input of shape "
                f"{tuple(np.shape(x))}. For images or sequences, use ex.attribute(x)."
            )
        per_item = 1
    else:
        per_item = 2
    out = []
    for path, leaf in batch.named_leaves(x if isinstance(inputs, DatasetRows) else inputs):
        name = path or "x"
        if columns and np.ndim(leaf) == per_item and _floating(leaf):
            out += [Feature(f"{name}[{c}]", path, c) for c in range(np.shape(leaf)[-1])]
        else:
            out.append(Feature(name, path, None))
    return out


def index_matrix(n: int, k: int) -> np.ndarray:
    """What scikit-learn shuffles: row numbers, one column per feature."""
    return np.repeat(np.arange(n, dtype=np.int64)[:, None], k, axis=1)


class StructuredEstimator:
    """The run as a scikit-learn estimator of index matrices (``fit`` does nothing): ``outputs(X)`` reads
    feature ``j`` of row ``i`` from row ``X[i, j]``."""

    def __init__(self, run, inputs, features: list, loader=None):
        self.run, self.inputs, self.features, self.loader = run, inputs, features, loader
        self._estimator_type = "classifier" if run.task == "classification" else "regressor"

    def fit(self, X, y=None):
        return self

    def outputs(self, X) -> torch.Tensor:
        X = np.asarray(X, dtype=np.int64)
        if isinstance(self.inputs, DatasetRows):
            return self._dataset_outputs(X)
        leaves = dict(batch.named_leaves(self.inputs))
        new = {p: np.asarray(a) for p, a in leaves.items()}
        for j, f in enumerate(self.features):
            src = X[:, j]
            if np.array_equal(src, np.arange(len(src))):
                continue
            if f.column is None:
                new[f.path] = np.asarray(leaves[f.path])[src]
            else:
                if new[f.path] is leaves[f.path]:
                    new[f.path] = np.array(new[f.path], copy=True)
                new[f.path][:, f.column] = np.asarray(leaves[f.path])[src, f.column]
        return self.run._outputs(rebuild(self.inputs, [new[p] for p in leaves]))

    def _dataset_outputs(self, X) -> torch.Tensor:
        from .datasets import LoaderBatches
        from .evaluation import forward_all

        b = self.loader  # the split's own loader settings: batch size, device, target, collate
        view = PermutedItems(self.inputs, self.features, X)
        batches = LoaderBatches(
            view, b.batch_size, torch.Generator(), b.device, b.target_dtype, target=b.target,
            collate=b.collate, keep_ints=b.keep_ints,
        )  # fmt: skip
        outputs, _ = forward_all(self.run.model, batches, self.run._precision)
        return outputs


class PermutedItems(torch.utils.data.Dataset):
    """A Dataset split whose item ``i`` takes feature ``j`` from item ``X[i, j]``."""

    def __init__(self, rows: DatasetRows, features: list, X: np.ndarray):
        self.rows, self.features, self.X = rows, features, X

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        item = self.rows.dataset[i]
        x, y = split_item(item, self.rows.target, "explain", i)
        leaves = dict(batch.named_leaves(x))
        for j, f in enumerate(self.features):
            src = int(self.X[i, j])
            if src == i:
                continue
            other = dict(batch.named_leaves(self.rows.item(src)[0]))[f.path]
            if f.column is None:
                leaves[f.path] = other
            else:
                leaf = leaves[f.path]
                leaf = leaf.clone() if torch.is_tensor(leaf) else np.array(leaf, copy=True)
                leaf[f.column] = other[f.column]
                leaves[f.path] = leaf
        x = rebuild(x, list(leaves.values())) if batch.is_structure(x) else leaves[""]
        if isinstance(item, Mapping):
            return {**x, target_key(item, self.rows.target, "explain"): y}
        return (x, y)
