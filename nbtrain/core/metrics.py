"""Metrics, computed with scikit-learn on host arrays.

Classification: accuracy, precision, recall, f1 (binary for two classes, macro-averaged for more),
auc (binary, or one-vs-rest macro for multiclass).  Regression: mse, mae, r2.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import ConfigError, unknown_name

CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "auc")
REGRESSION = ("mse", "mae", "r2")
KNOWN = CLASSIFICATION + REGRESSION
DEFAULT_TRAINING = {"classification": ("accuracy", "f1"), "regression": ("mse", "r2")}
DEFAULT_EVAL = {"classification": CLASSIFICATION, "regression": REGRESSION}
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "auc": True,
    "mse": False,
    "mae": False,
    "r2": True,
    "loss": False,
    "f1_micro": True,
    "f1_macro": True,
    "iou": True,
    "perplexity": False,
}


def parse_metrics(metrics, task: str, default=None, kind: str = "label", images: bool = False) -> tuple:
    """Metric names checked against the task (and the kind of target, see ``core/targets.py``);
    ``images``: per-pixel targets, whose defaults add ``iou``."""
    from . import targets

    if kind in targets.METRICS:  # multi-hot rows, per-position labels: their own metrics
        defaults = targets.DEFAULT_EVAL if default is DEFAULT_EVAL else targets.DEFAULT_TRAINING
        names = _parse_kind(metrics, kind, defaults)
        if metrics is None and images and kind == targets.POSITIONS:
            names += targets.IMAGE_DEFAULTS
        return names
    if metrics is None:
        return tuple((default or DEFAULT_TRAINING)[task])
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    names = []
    for m in metrics:
        if not isinstance(m, str):
            raise ConfigError(f'metrics are names such as "accuracy"; got {type(m).__name__}.')
        m = m.lower()
        if m not in KNOWN:
            raise unknown_name("metric", m, KNOWN)
        allowed = CLASSIFICATION if task == "classification" else REGRESSION
        if m not in allowed:
            raise ConfigError(f"metric {m!r} does not fit a {task} task; use {', '.join(allowed)}.")
        if m not in names:
            names.append(m)
    return tuple(names)


def _parse_kind(metrics, kind: str, defaults: dict) -> tuple:
    from . import targets

    if metrics is None:
        return tuple(defaults[kind])
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    allowed = targets.METRICS[kind]
    names = []
    for m in metrics:
        m = m.lower() if isinstance(m, str) else m
        if m not in allowed:
            what = "multi-label" if kind == targets.MULTIHOT else "per-position"
            raise ConfigError(f"metric {m!r} does not fit {what} targets; use {', '.join(allowed)}.")
        if m not in names:
            names.append(m)
    return tuple(names)


def compute(names, task: str, y_true: np.ndarray, pred: np.ndarray, scores=None, n_classes: int = 0) -> dict:
    """``pred`` are class indices (classification) or values; ``scores`` are class probabilities."""
    from sklearn import metrics as skm

    out = {}
    if task == "regression":
        y_true = y_true.reshape(len(y_true), -1)
        pred = pred.reshape(len(pred), -1)
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # undefined precision etc. is reported as 0, not warned about
            if name == "accuracy":
                v = skm.accuracy_score(y_true, pred)
            elif name in ("precision", "recall", "f1"):
                avg = "binary" if n_classes == 2 else "macro"
                fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[name]
                v = fn(
                    y_true, pred, average=avg, labels=None if n_classes == 2 else np.arange(n_classes), zero_division=0
                )
            elif name == "auc":
                v = _auc(y_true, scores, n_classes)
            elif name == "mse":
                v = skm.mean_squared_error(y_true, pred)
            elif name == "mae":
                v = skm.mean_absolute_error(y_true, pred)
            elif name == "r2":
                v = skm.r2_score(y_true, pred) if len(y_true) > 1 else float("nan")
            else:
                raise AssertionError(name)
        out[name] = float(v)
    return out


def _auc(y_true, scores, n_classes) -> float:
    from sklearn.metrics import roc_auc_score

    present = np.unique(y_true)
    if scores is None or len(present) < 2:
        return float("nan")  # AUC is undefined with one class present
    if n_classes == 2:
        s = scores[:, 1] if scores.ndim == 2 else scores
        return float(roc_auc_score(y_true, s))
    if len(present) < n_classes:
        return float("nan")
    return float(roc_auc_score(y_true, scores, multi_class="ovr", average="macro", labels=np.arange(n_classes)))


def per_class(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Precision, recall, f1 and support of each class (indices ``0..n_classes-1``), by scikit-learn:
    ``{"precision": [...], "recall": [...], "f1": [...], "support": [...]}``."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=np.arange(n_classes), zero_division=0)
    return {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()}
