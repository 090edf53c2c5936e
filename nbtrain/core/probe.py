"""One batch through the model and the loss before training: shapes, dtypes and label ranges become
clear errors now, not a traceback from the middle of an epoch."""

from __future__ import annotations

import numpy as np
import torch

from .data import CLASSIFICATION, REGRESSION
from .errors import ShapeError, quote
from .spec import Parts


def check_one_batch(parts: Parts, xb, yb, *, task: str, sample_shape: tuple, precision) -> None:
    """Run a few training rows through ``parts.net`` and ``parts.loss``; raise ShapeError on a mismatch."""
    net, loss_fn, need = parts.net, parts.loss, parts.n_out
    was = net.training
    net.eval()
    try:
        with torch.no_grad(), precision.autocast():
            try:
                out = net(xb)
            except (RuntimeError, ValueError, IndexError) as exc:
                raise ShapeError(
                    f"the model failed on a batch of shape {tuple(xb.shape)} with {quote(exc)}; "
                    f"make its input size match the data's sample shape {sample_shape}."
                ) from None
            if not isinstance(out, torch.Tensor):
                raise ShapeError(f"the model must return a tensor, but it returned {type(out).__name__}.")
            if out.dim() == 0 or out.shape[0] != len(xb):
                raise ShapeError(
                    f"the model returned shape {tuple(out.shape)} for a batch of {len(xb)} rows; "
                    "its first dimension must be the batch."
                )
            width = 1 if out.dim() == 1 else int(np.prod(out.shape[1:]))
            if task == CLASSIFICATION and loss_fn.task is not None:
                if loss_fn.single_output and width != 1:
                    raise ShapeError(
                        f"loss {loss_fn.name!r} needs one output per sample but the model gives {width}; "
                        'give the last layer 1 output or use loss="cross_entropy".'
                    )
                if not loss_fn.single_output and width < need:
                    raise ShapeError(
                        f"the model gives {width} outputs per sample but the data has {need} classes; "
                        f"give its last layer {need} outputs."
                    )
            elif task == REGRESSION and width != need:
                raise ShapeError(
                    f"the model gives {width} outputs per sample but the targets have {need} "
                    f"value(s) per sample; give its last layer {need} output(s)."
                )
            try:
                value = loss_fn(out, yb)
            except (RuntimeError, ValueError, IndexError, TypeError) as exc:
                raise ShapeError(
                    f"the loss {loss_fn.name!r} failed on outputs {tuple(out.shape)} and targets "
                    f"{tuple(yb.shape)} with {quote(exc)}."
                ) from None
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise ShapeError(
                    f"the loss {loss_fn.name!r} must return one number (a scalar tensor), "
                    f"got {getattr(value, 'shape', type(value).__name__)}."
                )
    finally:
        net.train(was)
