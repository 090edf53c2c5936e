"""What a target is, and what follows from it: the loss's view of the outputs, decisions, metrics.

Four kinds, decided once from the task, the loss and the targets' shape:

- ``"label"``      one class a row: ``(N,)`` labels of any type (a :class:`~.data.LabelCodec` maps them);
- ``"multihot"``   several classes a row: an ``(N, K)`` 0/1 matrix with ``loss="bce"`` or
                   ``task="multilabel"``; one logit per class, a class is on when its probability > 0.5;
- ``"positions"``  one class per position: integer ``(N, T)`` (tokens) or ``(N, H, W)`` (pixels), where
                   ``-100`` marks positions that count nowhere (loss, metrics, evaluation); outputs are
                   ``(N, C, ...)`` as torch's cross-entropy takes them, or ``(N, ..., C)`` as transformers'
                   token classifiers give them;
- ``"values"``     regression: one or more values a row.

>>> kind_of("classification", 2, "bce")
'multihot'
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .errors import DataError

LABEL, MULTIHOT, POSITIONS, VALUES = "label", "multihot", "positions", "values"
#: the target value that marks a position to ignore (torch's cross-entropy ignore_index, transformers' padding)
IGNORE = -100

#: metrics each kind of classification target takes, and the defaults while training / in evaluate
METRICS = {
    MULTIHOT: ("accuracy", "f1_micro", "f1_macro", "auc"),
    POSITIONS: ("accuracy", "iou"),
}
DEFAULT_TRAINING = {MULTIHOT: ("accuracy", "f1_micro"), POSITIONS: ("accuracy",)}
DEFAULT_EVAL = {MULTIHOT: ("accuracy", "f1_micro", "f1_macro", "auc"), POSITIONS: ("accuracy",)}
#: per-pixel targets (N, H, W) add the mean intersection over union to the defaults
IMAGE_DEFAULTS = ("iou",)


def kind_of(task: str, y_ndim: int, loss=None, declared: str | None = None) -> str:
    """The kind of target: ``task="multilabel"`` or ``bce`` on a matrix is multi-hot; other
    classification targets with more than one dimension are per position."""
    if task == "regression":
        return VALUES
    if declared == "multilabel":
        return MULTIHOT
    if y_ndim >= 2:
        name = loss if isinstance(loss, str) else getattr(loss, "name", None)
        return MULTIHOT if name is not None and name.split("(")[0].strip() == "bce" else POSITIONS
    return LABEL


def check(kind: str, y: np.ndarray, what: str) -> None:
    """Values the kind cannot hold, one sentence each."""
    if kind == MULTIHOT:
        if y.ndim != 2:
            raise DataError(f"{what}: a multi-label target is a (rows, classes) 0/1 matrix; got shape {y.shape}.")
        bad = np.setdiff1d(np.unique(y), [0, 1])
        if bad.size:
            raise DataError(
                f"{what}: a multi-hot target holds only 0 and 1, but it has {bad[0].item()!r}; give one 0/1 column per "
                "class (or a loss for another kind of target)."
            )
    elif kind == POSITIONS:
        if y.dtype.kind not in "iub":
            raise DataError(
                f"{what}: per-position labels must be integers (class indices, -100 to ignore); got {y.dtype}."
            )
        labelled = y[y != IGNORE]
        if labelled.size and labelled.min() < 0:
            raise DataError(
                f"{what}: per-position labels are class indices 0..C-1 and -100 for positions to ignore; "
                f"found {int(labelled.min())}."
            )
        if not labelled.size:
            raise DataError(f"{what}: every position is -100 (ignored); at least one position needs a label.")
    elif kind == LABEL and y.dtype.kind in "iu" and (y == IGNORE).any():
        raise DataError(
            f"{what}: -100 marks ignored positions of per-position targets, but this target has one label per "
            "row; drop those rows or give labels per position."
        )


def n_positions_classes(y_all, classes) -> int:
    """Classes of per-position labels: ``classes=`` (a count or names), else the largest label + 1."""
    if classes is not None:
        return classes if isinstance(classes, int) else len(classes)
    labelled = np.asarray(y_all)[np.asarray(y_all) != IGNORE]
    return max(2, int(labelled.max()) + 1)


def tensor(kind: str, y: np.ndarray) -> torch.Tensor:
    """The targets on the host, as the loss takes them."""
    if kind == MULTIHOT:
        return torch.from_numpy(y.astype(np.float32))
    return torch.from_numpy(y.astype(np.int64))


# --------------------------------------------------------------------------------- outputs


def channels_first(out: torch.Tensor, n_classes: int, y_shape=None) -> torch.Tensor:
    """Per-position logits as ``(N, C, ...)``: ``(N, ..., C)`` (transformers' token classifiers) is
    moved; ``y_shape`` (the targets' shape) decides, else the class count."""
    if out.dim() < 3:
        return out
    if y_shape is not None:
        if tuple(out.shape[2:]) == tuple(y_shape[1:]):
            return out
        if tuple(out.shape[1:-1]) == tuple(y_shape[1:]):
            return out.movedim(-1, 1)
        return out
    if out.shape[1] != n_classes and out.shape[-1] == n_classes:
        return out.movedim(-1, 1)
    return out


def labelled(out: torch.Tensor, y: torch.Tensor, n_classes: int):
    """``(logits (M, C), labels (M,))`` of the labelled positions of a batch (-100 left out)."""
    cf = channels_first(out, n_classes, tuple(y.shape))
    out = cf.movedim(1, -1).reshape(-1, cf.shape[1])
    flat = y.reshape(-1)
    keep = flat != IGNORE
    return out[keep], flat[keep]


def decide(outputs: torch.Tensor, kind: str, n_classes: int):
    """Host arrays ``(pred, scores)`` for a multi-hot or per-position output."""
    out = outputs.detach().float()
    if kind == MULTIHOT:
        scores = torch.sigmoid(out.reshape(len(out), -1))
        return (scores > 0.5).long().cpu().numpy(), scores.cpu().numpy()
    out = channels_first(out, n_classes)
    scores = torch.softmax(out, dim=1)
    pred = out.argmax(dim=1)
    if scores.dim() > 2:
        scores = scores.movedim(1, -1)  # (N, ..., C): one probability row per position
    return pred.cpu().numpy(), scores.cpu().numpy()


# --------------------------------------------------------------------------------- metrics


def compute(names, kind: str, y_true: np.ndarray, pred: np.ndarray, scores, n_classes: int) -> dict:
    """Metrics with scikit-learn: multi-hot rows (accuracy is subset accuracy, f1 micro / macro, auc
    macro), or labelled positions (accuracy, iou: mean intersection over union of the classes present)."""
    from sklearn import metrics as skm

    out = {}
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == "accuracy":
                v = skm.accuracy_score(y_true, pred)
            elif name in ("f1_micro", "f1_macro"):
                v = skm.f1_score(y_true, pred, average=name[3:], zero_division=0)
            elif name == "auc":
                both = [j for j in range(y_true.shape[1]) if len(np.unique(y_true[:, j])) == 2]
                v = float("nan") if len(both) < y_true.shape[1] else skm.roc_auc_score(y_true, scores, average="macro")
            elif name == "iou":
                present = np.union1d(np.unique(y_true), np.unique(pred))
                v = skm.jaccard_score(y_true, pred, labels=present, average="macro", zero_division=0)
            else:
                raise AssertionError(name)
        out[name] = float(v)
    return out


def class_iou(y_true: np.ndarray, pred: np.ndarray, classes) -> dict:
    """``{"iou_<class>": IoU}`` for every class (NaN where a class is neither labelled nor predicted)."""
    from sklearn.metrics import jaccard_score

    labels = np.arange(len(classes))
    values = jaccard_score(y_true, pred, labels=labels, average=None, zero_division=0).astype(float)
    values[~np.isin(labels, np.union1d(y_true, pred))] = np.nan  # a class nowhere: no IoU to speak of
    return {f"iou_{c}": float(v) for c, v in zip(np.asarray(classes).tolist(), values)}
