"""In-memory batches: prepared features as host tensors (:func:`as_tensor`; scipy sparse ones as
:class:`~nbtrain.core.sparse.SparseRows`) and :class:`TensorBatches`, batched by index.  The last stage
of the in-memory data path.

>>> b = TensorBatches(X, y, 32, torch.Generator())          # doctest: +SKIP
>>> next(b.epoch())                                         # (xb, yb): 32 shuffled rows
"""

from __future__ import annotations

import numpy as np
import torch

from . import batch, targets
from .declared import CLASSIFICATION
from .errors import DataError
from .forms import is_sparse
from .sparse import SparseRows


def as_tensor(a):
    """A host tensor of prepared features; a scipy sparse matrix stays sparse (:class:`.SparseRows`)."""
    if is_sparse(a):
        return SparseRows.from_scipy(a)
    return torch.from_numpy(a)


def target_tensor(t, task: str, codec, what: str, kind: str = "label") -> torch.Tensor:
    """A split's targets as a host tensor: class indices (``codec``), multi-hot or per-position labels,
    or float32 values (finite)."""
    if kind in (targets.MULTIHOT, targets.POSITIONS):
        if kind == targets.POSITIONS and int(t.y.max()) >= codec.n_classes:
            raise DataError(
                f"{what} labels include {int(t.y.max())}, but there are {codec.n_classes} classes; fix classes=."
            )
        return targets.tensor(kind, t.y)
    if task == CLASSIFICATION:
        return torch.from_numpy(codec.encode(t.y, f"{what} labels"))
    y = t.y.astype(np.float32)
    if not np.isfinite(y).all():
        raise DataError(f'{what} targets contain NaN or infinite values; drop those rows (preprocess="dropna").')
    return torch.from_numpy(y)


#: a shuffled epoch gathers rows in chunks of at most this share of the data, this many bytes, this many batches
CHUNK_SHARE, CHUNK_MAX_BYTES, CHUNK_MAX_BATCHES = 0.02, 32 << 20, 64


class TensorBatches:
    """In-memory tensors batched by index: a shuffled epoch gathers the rows of a permutation chunk by
    chunk (a few batches at a time, never a copy of the whole training set), an ordered pass takes views.

    ``X`` is a tensor or a structure of tensors (a tuple or dict of inputs, see :mod:`.batch`), ``y`` a
    tensor.  They live on ``device`` (moved once), or on the host when ``device`` is another one
    (``data_device="cpu"``): then each batch is gathered into pinned memory and copied non-blocking,
    so the copy overlaps the previous step.  ``owner`` keeps the shared copy they belong to alive.
    """

    def __init__(
        self, X, y: torch.Tensor, batch_size: int, generator: torch.Generator, device=None, owner=None, layout=None
    ):
        if layout is not None:  # a model that takes torch sparse tensors: sparse features batched so
            X = batch.apply(lambda t: t.with_layout(layout) if isinstance(t, SparseRows) else t, X)
        self.X, self.y, self.batch_size, self.generator = X, y, batch_size, generator
        self.layout = layout
        self.device = batch.first(X).device if device is None else torch.device(device)
        self.owner = owner
        self.n = len(y)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    @property
    def host(self) -> bool:
        """True when the rows stay on the host and go to the device per batch."""
        where = batch.first(self.X).device
        return where != self.device and where.type == "cpu"

    def probe(self, n: int = 8):
        """The first ``n`` training rows, for the one-batch check before training."""
        return self._move(batch.take(self.X, 0, n)), self._move(self.y[:n])

    def _move(self, x, idx=None):
        """Rows ``idx`` of ``x`` (all of it when None; a tensor or a structure) on the device."""
        if isinstance(x, torch.Tensor):
            return self._move_one(x, idx)
        return batch.apply(lambda t: self._move_one(t, idx), x)

    def _move_one(self, t: torch.Tensor, idx=None) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):  # sparse rows: gathered dense where they live, then copied
            rows = t[:] if idx is None else t.index_select(0, idx)
            return rows.to(self.device)
        if t.layout != torch.strided:  # a torch sparse batch (sparse_input): copied as it is
            return t.to(self.device)
        if t.device == self.device or not self.host:
            return t if idx is None else t.index_select(0, idx)
        pin = self.device.type == "cuda"
        rows = len(t) if idx is None else len(idx)
        buf = torch.empty((rows,) + tuple(t.shape[1:]), dtype=t.dtype, pin_memory=pin)
        torch.index_select(t, 0, idx, out=buf) if idx is not None else buf.copy_(t)
        return buf.to(self.device, non_blocking=pin)

    def chunk_batches(self) -> int:
        """Batches gathered at once in a shuffled epoch: at most 2% of the rows' bytes (and 32 MB),
        at most 64 batches: a bounded extra copy, and one gather per chunk instead of one per batch."""
        if self.n == 0 or self.layout is not None:
            return 1  # sparse batches are gathered one by one (a sparse tensor is not sliced by rows)
        row = batch.row_bytes(self.X) + self.y[:1].numel() * self.y.element_size()
        budget = min(CHUNK_MAX_BYTES, CHUNK_SHARE * self.n * row)
        return max(1, min(CHUNK_MAX_BATCHES, int(budget // max(1, self.batch_size * row))))

    def epoch(self, shuffle: bool = True):
        bs, n = self.batch_size, self.n
        single = isinstance(self.X, torch.Tensor)
        if shuffle and bs < n:  # one batch of every row ("gd"): the order does not matter
            perm = torch.randperm(n, generator=self.generator)
            if not self.host:
                perm = perm.to(self.y.device, non_blocking=True)
            step = bs * self.chunk_batches()
            for c in range(0, n, step):
                idx = perm[c : c + step]
                Xc, yc = self._move(self.X, idx), self._move_one(self.y, idx)
                if step == bs:  # one batch a chunk: the gathered rows are the batch
                    yield Xc, yc
                    continue
                for i in range(0, len(idx), bs):
                    yield (Xc[i : i + bs] if single else batch.take(Xc, i, i + bs)), yc[i : i + bs]
            return
        for i in range(0, n, bs):
            x = self.X[i : i + bs] if single else batch.take(self.X, i, i + bs)
            yield self._move(x), self._move_one(self.y[i : i + bs])
