"""Forward passes over whole splits and the decisions (labels, scores) made from outputs."""

from __future__ import annotations

import torch

from . import batch
from .metrics import compute


@torch.no_grad()
def forward_all(model, batches, precision, loss_fn=None):
    """Run the model over every batch in order (eval mode).  Returns (outputs, targets) on the device,
    the outputs being the logits (``.logits`` of a model's output object); with ``loss_fn``, also the
    rows-weighted mean loss over the split (one host read): ``(outputs, targets, loss)``."""
    was_training = model.training
    model.eval()
    outs, ys, losses = [], [], []
    labels = loss_fn is not None and getattr(loss_fn, "wants_labels", False)
    try:
        for xb, yb in batches.epoch(shuffle=False):
            with precision.autocast():
                raw = batch.call(model, xb, yb if labels else None)
                if loss_fn is not None:
                    losses.append(loss_fn(raw, yb).float() * len(yb))
            outs.append(batch.logits(raw).float())
            ys.append(yb)
    finally:
        model.train(was_training)
    outputs, targets = torch.cat(outs), torch.cat(ys)
    if loss_fn is None:
        return outputs, targets
    return outputs, targets, float(torch.stack(losses).sum() / len(targets))


def decide(outputs: torch.Tensor, task: str):
    """Host arrays (pred, scores): class indices and class probabilities, or regression values."""
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


def split_loss(loss_fn, outputs, targets, chunk: int) -> float:
    """The size-weighted mean loss over a split, computed in chunks (one host read)."""
    parts = [
        loss_fn(outputs[i : i + chunk], targets[i : i + chunk]).float() * len(targets[i : i + chunk])
        for i in range(0, len(targets), chunk)
    ]
    return float(torch.stack(parts).sum() / len(targets))


def split_metrics(outputs, targets, names, task: str, n_classes: int) -> dict:
    """Metrics of a split's outputs against its (encoded) targets, as floats."""
    pred, scores = decide(outputs, task)
    return compute(names, task, targets.cpu().numpy(), pred, scores, n_classes)


def make_evaluator(loss_fn, precision, names, task: str, n_classes: int, chunk: int):
    """The per-epoch validation function: loss plus the declared metrics, as floats."""

    def evaluate(model, batches) -> dict:
        if getattr(loss_fn, "own", False):  # the model's own loss: computed batch by batch, with the labels
            outputs, targets, loss = forward_all(model, batches, precision, loss_fn)
        else:
            outputs, targets = forward_all(model, batches, precision)
            loss = split_loss(loss_fn, outputs, targets, chunk)
        result = {"loss": loss}
        if names:
            result.update(split_metrics(outputs, targets, names, task, n_classes))
        return result

    return evaluate
