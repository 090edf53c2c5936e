"""scipy sparse features (TF-IDF, one-hot output) that stay sparse in memory and on the device.

:class:`SparseRows` holds a CSR matrix as three torch tensors (row pointers, column indices,
values); taking rows gives a dense ``(rows, columns)`` float32 batch, so the whole matrix is never
made dense -- or, for a model that takes sparse input (it says so with a class attribute
``sparse_input = "csr"`` or ``"coo"``, :func:`sparse_layout`), a torch sparse tensor of that layout,
never dense at all (``torch.sparse.mm(x, weight)`` in its ``forward``).

It has what :class:`~nbtrain.core.tensor_batches.TensorBatches` asks of its ``X``: ``shape``,
``device``, ``len``, ``index_select(0, idx)``, slicing and ``.to(device)``.

>>> rows = SparseRows.from_scipy(tfidf_matrix)     # doctest: +SKIP
>>> rows.index_select(0, torch.tensor([3, 1]))     # a dense (2, n_features) tensor
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .errors import ConfigError

#: the model attribute that asks for sparse batches, and the layouts it may name
ATTRIBUTE = "sparse_input"
LAYOUTS = {"csr": torch.sparse_csr, "coo": torch.sparse_coo}


def sparse_layout(model):
    """The torch sparse layout ``model`` takes (its ``sparse_input`` attribute: ``"csr"`` or ``"coo"``),
    or None (dense batches, the default; also for a preset model)."""
    asked = getattr(model, ATTRIBUTE, None) if isinstance(model, torch.nn.Module) else None
    if asked is None or asked is False:
        return None
    if asked not in LAYOUTS:
        raise ConfigError(
            f"{type(model).__name__}.{ATTRIBUTE} = {asked!r}: name the torch sparse layout the model takes, "
            '"csr" or "coo" (or leave it out for dense batches).'
        )
    return LAYOUTS[asked]


class SparseRows:
    """A CSR matrix whose rows are gathered into batches, on any device: dense ones, or torch sparse
    tensors of ``layout`` (``torch.sparse_csr`` / ``torch.sparse_coo``)."""

    def __init__(self, crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, n_cols: int, layout=None):
        self.crow, self.col, self.values, self.n_cols = crow, col, values, int(n_cols)
        self.layout = layout

    def with_layout(self, layout) -> SparseRows:
        """The same matrix (no copy) handing out batches of ``layout`` (None: dense)."""
        return SparseRows(self.crow, self.col, self.values, self.n_cols, layout)

    @classmethod
    def from_scipy(cls, matrix) -> SparseRows:
        csr = matrix.tocsr()
        csr.sort_indices()
        return cls(
            torch.from_numpy(csr.indptr.astype(np.int64)),
            torch.from_numpy(csr.indices.astype(np.int64)),
            torch.from_numpy(csr.data.astype(np.float32)),
            csr.shape[1],
        )

    @property
    def shape(self) -> tuple:
        return (len(self.crow) - 1, self.n_cols)

    @property
    def device(self) -> torch.device:
        return self.values.device

    @property
    def dtype(self) -> torch.dtype:
        return self.values.dtype

    def __len__(self) -> int:
        return len(self.crow) - 1

    def numel(self) -> int:  # what is stored, for the memory budget
        return self.crow.numel() + self.col.numel() + self.values.numel()

    def element_size(self) -> int:
        return 8

    def to(self, device, non_blocking: bool = False) -> SparseRows:
        moved = (t.to(device, non_blocking=non_blocking) for t in (self.crow, self.col, self.values))
        return SparseRows(*moved, self.n_cols, self.layout)

    def index_select(self, dim: int, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` as a ``(len(idx), n_cols)`` float32 tensor on this matrix's device: dense, or
        sparse of this matrix's ``layout``."""
        assert dim == 0
        idx = idx.to(self.crow.device)
        starts, ends = self.crow[idx], self.crow[idx + 1]
        lengths = ends - starts
        n = len(idx)
        total = int(lengths.sum())  # a host sync: the size of the gathered entries
        rows = torch.repeat_interleave(torch.arange(n, device=idx.device), lengths)
        first = torch.cumsum(lengths, 0) - lengths  # where each row's entries begin in the gathered list
        pos = torch.arange(total, device=idx.device) - torch.repeat_interleave(first - starts, lengths)
        cols, vals = self.col[pos], self.values[pos]
        if self.layout == torch.sparse_csr:
            crow = torch.cat([torch.zeros(1, dtype=lengths.dtype, device=idx.device), torch.cumsum(lengths, 0)])
            with warnings.catch_warnings():  # torch's "CSR support is in beta" line: not the user's concern
                warnings.simplefilter("ignore", UserWarning)
                return torch.sparse_csr_tensor(crow, cols, vals, (n, self.n_cols), check_invariants=False)
        if self.layout == torch.sparse_coo:  # rows ascending, columns sorted within a row: coalesced
            return torch.sparse_coo_tensor(
                torch.stack([rows, cols]), vals, (n, self.n_cols), is_coalesced=True, check_invariants=False
            )
        out = torch.zeros(n, self.n_cols, dtype=self.values.dtype, device=self.values.device)
        if total:
            out[rows, cols] = vals
        return out

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, slice):
            lo, hi, step = key.indices(len(self))
            return self.index_select(0, torch.arange(lo, hi, step, device=self.crow.device))
        return self.index_select(0, torch.as_tensor(key, device=self.crow.device).reshape(-1))
