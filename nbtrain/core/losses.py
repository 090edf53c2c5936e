"""Loss presets: mse, mae, huber, cross_entropy, bce, hinge.

Each preset knows its task and the model head it needs: ``cross_entropy`` wants one logit per
class; ``bce`` and binary ``hinge`` want one score; multiclass ``hinge`` is the multi-class margin
loss (one score per class).  Targets on the device are class indices (int64) for classification
and floats for regression; the presets convert and align shapes themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import batch
from .errors import PresetError, unknown_name
from .presets import check_kwargs, parse_preset
from .targets import IGNORE

CLASSIFICATION_LOSSES = ("cross_entropy", "bce", "hinge")
REGRESSION_LOSSES = ("mse", "mae", "huber")
KNOWN = CLASSIFICATION_LOSSES + REGRESSION_LOSSES


def _align(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # (B, 1) outputs against (B,) targets would broadcast to (B, B): never let that happen
    if out.shape != y.shape and out.numel() == y.numel():
        return out.reshape(y.shape)
    return out


@dataclass
class Loss:
    """A loss of ``(model output, targets)``: it reads the output's logits (``.logits``,
    ``["logits"]`` or the tensor); ``own`` takes the loss the output carries (``.loss``), computed by
    the model from the labels passed to it (``wants_labels``)."""

    name: str
    fn: Callable
    task: str | None  # "classification", "regression" or None (a user callable)
    single_output: bool = False  # the model has one output column (bce / binary hinge)
    own: bool = False  # the model's own loss: output.loss / output["loss"]
    wants_labels: bool = False  # the model is called with labels=y

    def __call__(self, out, y):
        if self.own:
            return batch.own_loss(out)
        if not isinstance(out, torch.Tensor):
            out = batch.logits(out)
        return self.fn(out, y)


def _mse(out, y):
    return F.mse_loss(_align(out, y).float(), y)


def _mae(out, y):
    return F.l1_loss(_align(out, y).float(), y)


def _bce(out, y):
    return F.binary_cross_entropy_with_logits(_align(out, y).float(), y.float())


def _hinge_binary(out, y):
    s = y.float() * 2 - 1
    return torch.clamp(1 - _align(out, s).float() * s, min=0).mean()


def _hinge_multi(out, y):
    return F.multi_margin_loss(out.float(), y)


def _per_position(out, y):
    """(N, ..., C) logits of per-position targets (transformers' token classifiers) as (N, C, ...),
    the layout torch's cross-entropy takes; -100 targets are its ignore_index already."""
    if y.dim() >= 2 and out.dim() == y.dim() + 1 and tuple(out.shape[2:]) != tuple(y.shape[1:]):
        if tuple(out.shape[1:-1]) == tuple(y.shape[1:]):
            return out.movedim(-1, 1)
    return out


def _cross_entropy(out, y, label_smoothing: float = 0.0):
    """The mean over the labelled targets (-100 left out), as torch's mean, except that a batch of
    per-position targets with no labelled one gives 0 with zero gradient (torch's mean divides 0 by 0
    there: NaN).  The count stays a device tensor: no host sync."""
    out = _per_position(out, y).float()
    if y.is_floating_point() or y.dim() == 1:  # class probabilities, or one label a row (-100 refused there)
        return F.cross_entropy(out, y, label_smoothing=label_smoothing)  # torch's mean: no extra kernels a step
    total = F.cross_entropy(out, y, reduction="sum", label_smoothing=label_smoothing)
    return total / (y != IGNORE).sum().clamp(min=1)


def build_loss(spec, n_classes: int = 0) -> Loss:
    """A :class:`Loss` from a preset name or any callable ``(outputs, targets) -> scalar``."""
    if callable(spec) and not isinstance(spec, str):
        name = getattr(spec, "__name__", None) or type(spec).__name__
        return Loss(name, spec, None)
    p = parse_preset(spec)
    if p.name not in KNOWN:
        raise unknown_name("loss", p.name, KNOWN)
    if p.args:
        raise PresetError(f'loss {p.name!r} takes keyword arguments only, e.g. "huber(delta=0.5)".')
    if p.name == "huber":
        check_kwargs(p, {"delta"}, "loss")
        delta = float(p.kwargs.get("delta", 1.0))
        return Loss("huber", lambda out, y: F.huber_loss(_align(out, y).float(), y, delta=delta), "regression")
    if p.name == "cross_entropy":
        check_kwargs(p, {"label_smoothing"}, "loss")
        ls = float(p.kwargs.get("label_smoothing", 0.0))
        fn = _cross_entropy if not ls else (lambda out, y: _cross_entropy(out, y, label_smoothing=ls))
        return Loss("cross_entropy", fn, "classification")
    check_kwargs(p, set(), "loss")
    if p.name == "mse":
        return Loss("mse", _mse, "regression")
    if p.name == "mae":
        return Loss("mae", _mae, "regression")
    if p.name == "bce":
        return Loss("bce", _bce, "classification", single_output=True)
    if p.name == "hinge":
        if n_classes > 2:
            return Loss("hinge", _hinge_multi, "classification")
        return Loss("hinge", _hinge_binary, "classification", single_output=True)
    raise AssertionError(p.name)


def loss_task(spec) -> str | None:
    """The task a loss preset implies, or None for a callable / no loss."""
    if spec is None or (callable(spec) and not isinstance(spec, str)):
        return None
    name = parse_preset(spec).name
    if name in CLASSIFICATION_LOSSES:
        return "classification"
    if name in REGRESSION_LOSSES:
        return "regression"
    raise unknown_name("loss", name, KNOWN)
