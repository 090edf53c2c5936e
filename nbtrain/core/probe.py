"""One batch through the model and the loss before training: shapes, dtypes and label ranges become
clear errors now, not a traceback from the middle of an epoch."""

from __future__ import annotations

import numpy as np
import torch

from . import batch, targets
from .declared import CLASSIFICATION, REGRESSION
from .errors import ShapeError, quote
from .spec import Parts

#: torch's words when integer inputs reach a floating layer, and when floats reach an embedding
_INT_INTO_FLOAT = (
    "must have the same dtype",
    "expected scalar type",
    "not implemented for 'long'",
    "not implemented for 'int'",
    "not implemented for 'byte'",
    "input type (long",
    "input type (int",
    "found dtype long",
    "found dtype int",
    "but found long",
    "but found int",
    "and bias type",
)
_FLOAT_INTO_IDS = ("'indices' to have one of the following scalar types", "expected index", "indices must be")


def dtype_problem(exc: BaseException, xb) -> str | None:
    """One sentence naming the fix when the model failed on the kind of its inputs, else None."""
    text = str(exc).lower()
    leaves = [(p, t) for p, t in batch.named_leaves(xb) if isinstance(t, torch.Tensor)]
    ints = [(p, t) for p, t in leaves if not t.is_floating_point()]
    floats = [(p, t) for p, t in leaves if t.is_floating_point()]
    if floats and any(w in text for w in _FLOAT_INTO_IDS):
        where = ", ".join(f"{p or 'X'} ({str(t.dtype).removeprefix('torch.')})" for p, t in floats)
        return (
            f"the model takes integer ids (an nn.Embedding) but got floating inputs: {where}; give the ids as "
            "integers, e.g. X.astype('int64') (integer inputs keep their dtype)."
        )
    if ints and any(w in text for w in _INT_INTO_FLOAT):
        where = ", ".join(f"{p or 'X'} ({str(t.dtype).removeprefix('torch.')})" for p, t in ints)
        return (
            f"the model computes in floating point but got integer inputs: {where}; convert the features, "
            "e.g. X.astype('float32') (integer inputs keep their dtype, for token ids; floats become float32)."
        )
    return None


def check_one_batch(parts: Parts, xb, yb, *, task: str, sample_shape, precision, kind: str = "label") -> None:
    """Run a few training rows through ``parts.net`` and ``parts.loss``; raise ShapeError on a mismatch."""
    net, loss_fn, need = parts.net, parts.loss, parts.n_out
    was = net.training
    n_rows = batch.rows(xb)
    check_keys(net, xb)
    net.eval()
    try:
        with torch.no_grad(), precision.autocast():
            try:
                raw = batch.call(net, xb, yb if loss_fn.wants_labels else None)
            except (RuntimeError, ValueError, IndexError, TypeError) as exc:
                hint = dtype_problem(exc, xb)
                if hint is not None:
                    raise ShapeError(hint) from None
                what = f"shape {tuple(xb.shape)}" if isinstance(xb, torch.Tensor) else batch.describe(xb)
                raise ShapeError(
                    f"the model failed on a batch of {what} with {quote(exc)}; {_fit_hint(xb, net)}"
                ) from None
            out = batch.logits(raw)
            if not isinstance(out, torch.Tensor):
                raise ShapeError(
                    f"the model must return a tensor (or an output with .logits), but it returned {type(raw).__name__}."
                )
            if out.dim() == 0 or out.shape[0] != n_rows:
                raise ShapeError(
                    f"the model returned shape {tuple(out.shape)} for a batch of {n_rows} rows; "
                    "its first dimension must be the batch."
                )
            width = 1 if out.dim() == 1 else int(np.prod(out.shape[1:]))
            if kind == targets.MULTIHOT and width != need:
                raise ShapeError(
                    f"the model gives {width} outputs per sample but the multi-hot targets have {need} classes; "
                    f"give its last layer {need} outputs (one logit per class)."
                )
            if kind == targets.POSITIONS:
                cf = targets.channels_first(out, need, tuple(yb.shape))
                if cf.dim() != yb.dim() + 1 or cf.shape[1] < need or tuple(cf.shape[2:]) != tuple(yb.shape[1:]):
                    raise ShapeError(
                        f"the model returned shape {tuple(out.shape)} for per-position targets of shape "
                        f"{tuple(yb.shape)}; give logits (N, {need}, ...) or (N, ..., {need}), one per class and "
                        "position."
                    )
            elif kind == targets.MULTIHOT:
                pass  # checked above
            elif task == CLASSIFICATION and loss_fn.task is not None:
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
            elif task == REGRESSION and width != need and not loss_fn.own:
                raise ShapeError(
                    f"the model gives {width} outputs per sample but the targets have {need} "
                    f"value(s) per sample; give its last layer {need} output(s)."
                )
            try:
                value = loss_fn(raw, yb)
            except (RuntimeError, ValueError, IndexError, TypeError) as exc:
                raise ShapeError(
                    f"the loss {loss_fn.name!r} failed on outputs {tuple(out.shape)} and targets "
                    f"{tuple(yb.shape)} with {quote(exc)}."
                ) from None
            if loss_fn.own and value is None:
                raise ShapeError("the model returned no loss on this batch (output.loss is None); give it labels.")
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise ShapeError(
                    f"the loss {loss_fn.name!r} must return one number (a scalar tensor), "
                    f"got {getattr(value, 'shape', type(value).__name__)}."
                )
    finally:
        net.train(was)


def check_keys(net, xb) -> None:
    """A dict batch is passed as ``model(**x)``: every key must be an argument of ``forward``."""
    if not isinstance(xb, dict):
        return
    params = batch.forward_params(net)
    if params is None or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    unknown = [k for k in xb if k not in params]
    if unknown:
        takes = ", ".join(repr(n) for n, p in params.items() if p.kind is not p.VAR_POSITIONAL) or "nothing"
        raise ShapeError(
            f"the inputs {', '.join(map(repr, xb))} are passed as model(**x), but the model's forward takes "
            f"{takes}; rename the keys (or the arguments) so that they agree."
        )


def _fit_hint(xb, net) -> str:
    """How to make the model take the batch: its input size, or the names its forward takes."""
    if isinstance(xb, dict):
        params = batch.forward_params(net)
        names = [n for n in params] if params is not None else []
        return (
            f"the model is called model(**x) with the keys {', '.join(map(repr, xb))}, and its forward takes "
            f"{', '.join(map(repr, names)) or 'no named arguments'}; make the two agree."
        )
    if isinstance(xb, (tuple, list)):
        return f"the model is called model(*x) with {len(xb)} inputs; make its forward take them in that order."
    return f"make its input size match the data's sample shape {tuple(xb.shape[1:])}."
