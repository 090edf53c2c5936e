"""Batches of any structure: one recursive mover, one way to call the model.

An input ``x`` is a tensor, a tuple/list of inputs, a dict of inputs (nested too), a namedtuple or a
dataclass; every function here walks such a structure and rebuilds it as it was (a namedtuple stays
that namedtuple, a dataclass that dataclass).  The model is called ``model(**x)`` for a dict,
``model(*x)`` for a plain tuple or list, and ``model(x)`` for anything else (a tensor, a namedtuple,
a dataclass).

The dtype rule: floating tensors take the run's float dtype (float32; AMP autocasts from there),
integer and boolean tensors keep theirs, so token ids reach an ``nn.Embedding`` as int64.

>>> to_device({"ids": ids, "mask": mask}, torch.device("cuda"))      # doctest: +SKIP
>>> call(model, {"ids": ids, "mask": mask})                          # model(ids=..., mask=...)
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping

import numpy as np
import torch

#: the dtype floating inputs take
FLOAT = torch.float32


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _is_dataclass(obj) -> bool:
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def is_structure(x) -> bool:
    """True for a tuple, list, dict, namedtuple or dataclass of inputs (not a single tensor or array)."""
    return isinstance(x, (tuple, list, Mapping)) or _is_dataclass(x)


def apply(fn: Callable, x):
    """``fn`` applied to every leaf of ``x`` (tensors, arrays, anything else), the structure kept."""
    if isinstance(x, Mapping):
        d = {k: apply(fn, v) for k, v in x.items()}
        if type(x) is dict:
            return d
        try:
            return type(x)(d)  # OrderedDict, transformers' BatchEncoding: the same kind back
        except TypeError:
            return d
    if _is_namedtuple(x):
        return type(x)(*(apply(fn, v) for v in x))
    if isinstance(x, (tuple, list)):
        return type(x)(apply(fn, v) for v in x)
    if _is_dataclass(x):
        fields = {f.name: apply(fn, getattr(x, f.name)) for f in dataclasses.fields(x) if f.init}
        return dataclasses.replace(x, **fields)
    return fn(x)


def leaves(x) -> list:
    """The leaves of ``x`` in order (depth first)."""
    out: list = []
    apply(out.append, x)
    return out


def named_leaves(x, prefix: str = "") -> list:
    """``[(path, leaf)]``: ``"num"``, ``"[0]"``, ``"inputs.ids"``; ``""`` for a bare tensor."""
    if isinstance(x, Mapping):
        return [p for k, v in x.items() for p in named_leaves(v, f"{prefix}.{k}" if prefix else str(k))]
    if _is_namedtuple(x):
        return [p for k, v in zip(x._fields, x) for p in named_leaves(v, f"{prefix}.{k}" if prefix else k)]
    if isinstance(x, (tuple, list)):
        return [p for i, v in enumerate(x) for p in named_leaves(v, f"{prefix}[{i}]")]
    if _is_dataclass(x):
        return [p for f in dataclasses.fields(x) for p in named_leaves(getattr(x, f.name), f"{prefix}.{f.name}")]
    return [(prefix, x)]


def first(x):
    """The first tensor (or array) leaf: where a structure's rows and device are read."""
    for leaf in leaves(x):
        if isinstance(leaf, (torch.Tensor, np.ndarray)) or hasattr(leaf, "shape"):
            return leaf
    return None


def rows(x) -> int:
    """The batch's number of rows (the first dimension of its first tensor)."""
    leaf = first(x)
    return 0 if leaf is None else int(leaf.shape[0])


def cast(t, dtype: torch.dtype = FLOAT):
    """The dtype rule for one leaf: floating -> ``dtype``, integer and boolean kept."""
    if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != dtype:
        return t.to(dtype)
    return t


def to_device(x, device: torch.device, *, dtype: torch.dtype | None = FLOAT, ints: bool = True):
    """``x`` on ``device``: every leaf with ``.to`` is moved (a tensor, or anything tensor-like);
    ``non_blocking`` only from pinned memory (the only copy that may overlap the next step).
    Floating tensors take ``dtype`` (cast before the copy when that narrows it, so it crosses at the
    small size, after it when it widens); ``dtype=None`` keeps every dtype.  ``ints=False`` casts
    integer and boolean tensors to ``dtype`` too (features for a preset model, not ids)."""

    def move(t):
        if isinstance(t, torch.Tensor):
            if dtype is not None and t.dtype != dtype and (t.is_floating_point() or not ints):
                if t.dtype.itemsize > dtype.itemsize:
                    t = t.to(dtype)
                moved = t.to(device, non_blocking=t.device.type == "cpu" and t.is_pinned())
                return moved.to(dtype)
            if t.device == device:
                return t
            return t.to(device, non_blocking=t.device.type == "cpu" and t.is_pinned())
        to = getattr(t, "to", None)
        if callable(to) and not isinstance(t, (np.ndarray, str, bytes)):
            return to(device)
        return t

    return apply(move, x)


def index(x, idx):
    """Rows ``idx`` (a tensor of indices) of every tensor leaf."""
    return apply(lambda t: t.index_select(0, idx) if isinstance(t, torch.Tensor) else t[idx], x)


def take(x, lo: int, hi: int):
    """Rows ``lo:hi`` of every leaf (views for tensors)."""
    return apply(lambda t: t[lo:hi], x)


def nbytes(x) -> int:
    return sum(t.numel() * t.element_size() for t in leaves(x) if hasattr(t, "element_size"))


def row_bytes(x) -> int:
    """Bytes of one row of every tensor leaf (as the dense batch it becomes)."""
    return sum(t[:1].numel() * t[:1].element_size() for t in leaves(x) if hasattr(t, "element_size"))


def shapes(x):
    """The sample shape of every leaf, as the structure: ``{"num": (4,), "ids": (12,)}``; a tuple
    for a bare tensor."""
    return apply(lambda t: tuple(t.shape[1:]) if hasattr(t, "shape") else None, x)


def describe(x) -> str:
    """``num (8, 4) float32, cat (8,) int64``: a batch's leaves, for error messages."""
    parts = []
    for path, t in named_leaves(x):
        if hasattr(t, "shape"):
            dtype = str(getattr(t, "dtype", "")).removeprefix("torch.")
            parts.append(f"{path + ' ' if path else ''}{tuple(t.shape)} {dtype}".strip())
    return ", ".join(parts)


# ------------------------------------------------------------------------------- calling the model


def accepts(model, name: str) -> bool:
    """Does ``model.forward`` take an argument called ``name`` (or ``**kwargs``)?"""
    params = forward_params(model)
    if params is None:
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def takes_labels(model) -> bool:
    """Does the model's ``forward`` name a ``labels`` argument (the transformers convention)?"""
    params = forward_params(model)
    return params is not None and "labels" in params


def forward_params(model):
    """The parameters of the forward that runs: through torch.compile's and DDP's wrappers, and through a
    wrapper whose forward passes ``**kwargs`` on to a base model (a peft ``PeftModel``): the base's."""
    owner = getattr(model, "_orig_mod", model)
    inner = getattr(model, "module", None)  # DDP wraps the module
    if isinstance(inner, torch.nn.Module) and type(model).__name__ == "DistributedDataParallel":
        owner = inner
    params = _signature(getattr(owner, "forward", owner))
    base = getattr(owner, "get_base_model", None)
    if params is not None and callable(base) and any(p.kind is p.VAR_KEYWORD for p in params.values()):
        inner_params = _signature(getattr(base(), "forward", None))
        params = inner_params if inner_params is not None else params
    return params


def _signature(fwd):
    try:
        return inspect.signature(fwd).parameters
    except (TypeError, ValueError):
        return None


def call(model, x, labels=None):
    """``model(**x)`` for a dict, ``model(*x)`` for a plain tuple or list, else ``model(x)``; with
    ``labels`` (a tensor) passed as ``labels=`` too (the model computes its own loss)."""
    extra = {} if labels is None else {"labels": labels}
    if isinstance(x, Mapping):
        return model(**x, **extra)
    if isinstance(x, (tuple, list)) and not _is_namedtuple(x):
        return model(*x, **extra)
    return model(x, **extra)


# ------------------------------------------------------------------------------- reading the output


def _get(out, key: str):
    if isinstance(out, Mapping):
        return out.get(key)
    if isinstance(out, torch.Tensor):
        return None
    return getattr(out, key, None)


def own_loss(out):
    """The loss a model's output carries (``out.loss`` or ``out["loss"]``), or None."""
    loss = _get(out, "loss")
    return loss if isinstance(loss, torch.Tensor) else None


def logits(out):
    """What metrics and decisions read: ``out.logits`` / ``out["logits"]``, or the tensor itself."""
    if isinstance(out, torch.Tensor):
        return out
    value = _get(out, "logits")
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return out
