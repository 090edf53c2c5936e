"""Where in-memory data lives, and one shared copy of it for every run on the same arrays.

- :func:`choose` decides ``data_device``: ``"device"`` (moved once, batches are views or gathers
  on the device), ``"cpu"`` (kept on the host; each batch is gathered into pinned memory and
  copied non-blocking), ``"auto"``: the host when the data would take more than half of the free
  device memory (:func:`free_bytes`; on the CPU the two are the same memory).
- :data:`SHARED` keeps one prepared copy (split, preprocessed, as tensors) per source arrays and
  preparation; runs on the same arrays with the same options share it, and it is freed when the
  last run holding it goes.  A key is the sources' identities (weak references: an array that
  died never matches a new one at the same address) plus a checksum of their values (all of them up
  to 256 MB, a sample beyond: an array changed in place is prepared again) plus every option that
  changes the result.

>>> SHARED.get(key) or SHARED.put(key, prepared)     # doctest: +SKIP
"""

from __future__ import annotations

import os
import weakref
import zlib

import numpy as np
import torch

#: "auto" keeps the data on the host when it would take more than this share of free device memory
DEVICE_SHARE = 0.5
#: a source up to this size is fingerprinted in full (about 0.1 s per 256 MB), a larger one by a sample
FULL_BYTES = 256 << 20
SAMPLE = 4096


def free_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` in bytes, or None where it is the host's (the CPU) or unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        mps = getattr(torch, "mps", None)
        rec = getattr(mps, "recommended_max_memory", None)
        used = getattr(mps, "driver_allocated_memory", None)
        if rec is not None and used is not None:
            return int(rec() - used())
    return None


def choose(nbytes: int, device: torch.device, setting: str = "auto") -> str:
    """``"device"`` or ``"cpu"``: where ``nbytes`` of training data should live for this run."""
    if setting != "auto":
        return setting
    free = free_bytes(device)
    if free is None or nbytes <= DEVICE_SHARE * free:
        return "device"
    return "cpu"


# ---------------------------------------------------------------------------------- shared copies


def _sample(obj) -> bytes:
    """The values of an array, tensor or frame to fingerprint: all of them up to ``FULL_BYTES``
    (a change anywhere is seen), beyond that ``SAMPLE`` evenly spaced ones."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu()
        obj = (obj.float() if obj.dtype in (torch.bfloat16, torch.float16) else obj).numpy()
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "O":
            flat = obj.reshape(-1)
            return repr(flat[:: max(1, flat.size // SAMPLE)].tolist()).encode()
        if obj.nbytes <= FULL_BYTES:
            return memoryview(np.ascontiguousarray(obj)).cast("B")
        flat = obj.reshape(-1)
        return flat[:: max(1, flat.size // SAMPLE)].tobytes()
    if hasattr(obj, "iloc") and hasattr(obj, "shape"):  # a pandas frame or series
        import pandas as pd

        cells = int(np.prod(obj.shape)) or 1
        step = 1 if cells * 8 <= FULL_BYTES else max(1, len(obj) // SAMPLE)
        return pd.util.hash_pandas_object(obj.iloc[::step], index=True).to_numpy().tobytes()
    raise TypeError(type(obj).__name__)


def token(obj):
    """``(identity, weak reference, fingerprint)`` of one source, or None where it cannot be shared
    (not weak-referenceable, or an unknown kind)."""
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (("file", os.path.abspath(path), st.st_mtime_ns, st.st_size), None, b"")
    try:
        ref = weakref.ref(obj)
        digest = zlib.crc32(_sample(obj)).to_bytes(4, "little")
    except TypeError:
        return None
    shape = tuple(getattr(obj, "shape", ()))
    return ((id(obj), type(obj).__name__, shape, str(getattr(obj, "dtype", ""))), ref, digest)


def sources(data) -> list | None:
    """The objects a declared ``data`` is made of (``(X, y)``'s two arrays, a frame, a Bunch's arrays)."""
    if data is None:
        return []
    if isinstance(data, (tuple, list)) and len(data) == 2:
        from .batch import is_structure, leaves

        X, y = data
        return [*leaves(X), y] if is_structure(X) else [X, y]  # several inputs: each array is a source
    if hasattr(data, "data") and hasattr(data, "target") and not hasattr(data, "iloc"):
        return [data.data, data.target]
    return [data]


def make_key(declared: list, options: tuple):
    """The cache key of ``declared`` sources (data, val_data, test_data) prepared with ``options``;
    None where one of them cannot be shared."""
    tokens = []
    for data in declared:
        objs = sources(data)
        toks = [token(o) for o in objs]
        if any(t is None for t in toks):
            return None
        tokens.append(tuple(toks))
    return Key(tuple(tokens), options)


class Key:
    """A cache key that matches only while its sources are alive and unchanged."""

    def __init__(self, tokens: tuple, options: tuple):
        self.tokens, self.options = tokens, options
        self.ident = (tuple(tuple((t[0], t[2]) for t in group) for group in tokens), options)

    def alive(self) -> bool:
        return all(t[1] is None or t[1]() is not None for group in self.tokens for t in group)


class Shared:
    """Weak cache: key -> the prepared data, alive as long as some run's batches hold it."""

    def __init__(self):
        self._entries: dict = {}

    def get(self, key: Key | None):
        if key is None:
            return None
        hit = self._entries.get(key.ident)
        if hit is None:
            return None
        stored_key, ref = hit
        value = ref()
        if value is None or not stored_key.alive():
            del self._entries[key.ident]
            return None
        return value

    def put(self, key: Key | None, value):
        if key is not None:
            self._entries[key.ident] = (key, weakref.ref(value))
            self._prune()
        return value

    def _prune(self) -> None:
        for k, (stored_key, ref) in list(self._entries.items()):
            if ref() is None or not stored_key.alive():
                del self._entries[k]

    def __len__(self) -> int:
        self._prune()
        return len(self._entries)


SHARED = Shared()
