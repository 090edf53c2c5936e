"""scipy sparse features (TF-IDF, one-hot output) that stay sparse in memory and on the device.

:class:`SparseRows` holds a CSR matrix as three torch tensors (row pointers, column indices,
values); taking rows gives a dense ``(rows, columns)`` float32 batch, so the whole matrix is never
made dense.  It has what :class:`~nbtrain.core.tensor_batches.TensorBatches` asks of its ``X``: ``shape``,
``device``, ``len``, ``index_select(0, idx)``, slicing and ``.to(device)``.

>>> rows = SparseRows.from_scipy(tfidf_matrix)     # doctest: +SKIP
>>> rows.index_select(0, torch.tensor([3, 1]))     # a dense (2, n_features) tensor
"""

from __future__ import annotations

import numpy as np
import torch


class SparseRows:
    """A CSR matrix whose rows are gathered into dense batches, on any device."""

    def __init__(self, crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, n_cols: int):
        self.crow, self.col, self.values, self.n_cols = crow, col, values, int(n_cols)

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
        return SparseRows(
            *(t.to(device, non_blocking=non_blocking) for t in (self.crow, self.col, self.values)), self.n_cols
        )

    def index_select(self, dim: int, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` as a dense ``(len(idx), n_cols)`` float32 tensor on this matrix's device."""
        assert dim == 0
        idx = idx.to(self.crow.device)
        starts, ends = self.crow[idx], self.crow[idx + 1]
        lengths = ends - starts
        out = torch.zeros(len(idx), self.n_cols, dtype=self.values.dtype, device=self.values.device)
        total = int(lengths.sum())
        if total == 0:
            return out
        rows = torch.repeat_interleave(torch.arange(len(idx), device=idx.device), lengths)
        first = torch.cumsum(lengths, 0) - lengths  # where each row's entries begin in the gathered list
        pos = torch.arange(total, device=idx.device) - torch.repeat_interleave(first - starts, lengths)
        out[rows, self.col[pos]] = self.values[pos]
        return out

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, slice):
            lo, hi, step = key.indices(len(self))
            return self.index_select(0, torch.arange(lo, hi, step, device=self.crow.device))
        return self.index_select(0, torch.as_tensor(key, device=self.crow.device).reshape(-1))
