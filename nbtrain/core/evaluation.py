"""Forward passes over whole splits and the decisions (labels, scores) made from outputs."""

from __future__ import annotations

import torch

from . import batch, targets
from .metrics import compute


@torch.no_grad()
def forward_all(model, batches, precision, loss_fn=None, positions: int = 0):
    """Run the model over every batch in order (eval mode).  Returns (outputs, targets) on the device,
    the outputs being the logits (``.logits`` of a model's output object); with ``loss_fn``, also the
    rows-weighted mean loss over the split (one host read): ``(outputs, targets, loss)``.
    ``positions=C``: per-position targets of C classes, kept as the labelled positions only
    (``(M, C)`` logits, ``(M,)`` labels; batches may differ in length), the loss weighted by them."""
    was_training = model.training
    model.eval()
    outs, ys, losses = [], [], []
    pass_labels = loss_fn is not None and getattr(loss_fn, "wants_labels", False)
    try:
        for xb, yb in batches.epoch(shuffle=False):
            with precision.autocast():
                raw = batch.call(model, xb, yb if pass_labels else None)
                weight = int((yb != targets.IGNORE).sum()) if positions else len(yb)
                if loss_fn is not None:
                    losses.append(loss_fn(raw, yb).float() * weight)
            out = batch.logits(raw).float()
            if positions:
                out, yb = targets.labelled(out, yb, positions)
            outs.append(out)
            ys.append(yb)
    finally:
        model.train(was_training)
    outputs, labels = torch.cat(outs), torch.cat(ys)
    if loss_fn is None:
        return outputs, labels
    return outputs, labels, float(torch.stack(losses).sum() / max(1, len(labels)))


def decide(outputs: torch.Tensor, task: str, kind: str = "label", n_classes: int = 0):
    """Host arrays (pred, scores): class indices and class probabilities, or regression values; 0/1
    rows for multi-hot targets, a label per position for per-position ones (see :mod:`.targets`)."""
    if kind in (targets.MULTIHOT, targets.POSITIONS):
        return targets.decide(outputs, kind, n_classes)
    out = outputs.detach().float()
    if task == "regression":
        return out.cpu().numpy(), None
    if out.dim() == 1 or out.shape[1] == 1:
        p1 = torch.sigmoid(out.reshape(-1))
        scores = torch.stack([1 - p1, p1], dim=1)
        pred = (out.reshape(-1) > 0).long()
    else:
        scores = torch.softmax(out, dim=1)
        pred = out.argmax(dim=1)
    return pred.cpu().numpy(), scores.cpu().numpy()


def decoded(codec, task: str, y, pred, scores) -> dict:
    """Targets and predictions as ``Run.predictions`` gives them: labels decoded (with their indices
    and the class names) for classification, values for regression."""
    if task == "classification":
        return {
            "y_true": codec.decode(y),
            "y_pred": codec.decode(pred),
            "scores": scores,
            "classes": codec.classes,
            "y_true_index": y,
            "y_pred_index": pred,
        }
    return {"y_true": y.reshape(pred.shape) if y.size == pred.size else y, "y_pred": pred, "scores": None}


def split_loss(loss_fn, outputs, targets, chunk: int) -> float:
    """The size-weighted mean loss over a split, computed in chunks (one host read)."""
    parts = [
        loss_fn(outputs[i : i + chunk], targets[i : i + chunk]).float() * len(targets[i : i + chunk])
        for i in range(0, len(targets), chunk)
    ]
    return float(torch.stack(parts).sum() / len(targets))


def split_metrics(outputs, y, names, task: str, n_classes: int, kind: str = "label") -> dict:
    """Metrics of a split's outputs against its (encoded) targets, as floats."""
    pred, scores = decide(outputs, task, kind, n_classes)
    if kind in (targets.MULTIHOT, targets.POSITIONS):
        return targets.compute(names, kind, y.cpu().numpy().astype(int), pred, scores, n_classes)
    return compute(names, task, y.cpu().numpy(), pred, scores, n_classes)


def make_evaluator(loss_fn, precision, names, task: str, n_classes: int, chunk: int, kind: str = "label"):
    """The per-epoch validation function: loss plus the declared metrics, as floats."""
    positions = n_classes if kind == targets.POSITIONS else 0

    def evaluate(model, batches) -> dict:
        if getattr(loss_fn, "own", False) or positions:  # computed batch by batch (labels, -100 positions)
            outputs, y, loss = forward_all(model, batches, precision, loss_fn, positions=positions)
        else:
            outputs, y = forward_all(model, batches, precision)
            loss = split_loss(loss_fn, outputs, y, chunk)
        result = {"loss": loss}
        if names:
            result.update(split_metrics(outputs, y, names, task, n_classes, kind))
        return result

    return evaluate
