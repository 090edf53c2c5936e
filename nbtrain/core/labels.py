"""Labels: the task (a declaration, else the targets' dtype), the label codec, and each split's targets
as a tensor.  The stage after the sources are adapted and before they are split.

>>> LabelCodec.fit(np.array(["b", "a", "b"])).encode(np.array(["a", "b"]))     # array([0, 1])  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from .declared import CLASSIFICATION, REGRESSION, declared_task
from .errors import ConfigError, DataError


def infer_task(y: np.ndarray) -> str:
    """Integer, boolean or string labels mean classification; float targets mean regression."""
    return REGRESSION if y.dtype.kind in "fc" else CLASSIFICATION


class LabelCodec:
    """Maps arbitrary labels to 0..K-1 and back (sorted like ``np.unique``)."""

    def __init__(self, classes: np.ndarray):
        self.classes = np.asarray(classes)

    @classmethod
    def fit(cls, *ys: np.ndarray) -> LabelCodec:
        y = np.concatenate([np.asarray(v).ravel() for v in ys if v is not None])
        if y.dtype.kind == "O":
            kinds = {type(v) for v in y}
            if len(kinds) > 1:
                names = ", ".join(sorted(k.__name__ for k in kinds))
                raise DataError(f"labels mix types ({names}); convert them to one type, e.g. y.astype(str).")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise DataError("labels contain NaN; drop those rows or fill them before training.")
        try:
            classes = np.unique(y)
        except TypeError:
            raise DataError("labels cannot be sorted; convert them to strings or integers.") from None
        if len(classes) < 2:
            raise DataError(f"classification needs at least two classes, but every label is {classes[0]!r}.")
        return cls(classes)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def encode(self, y: np.ndarray, what: str = "labels") -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1:
            raise DataError(f"classification {what} must be 1-D, one label per row; got shape {y.shape}.")
        idx = np.searchsorted(self.classes, y)
        idx = np.clip(idx, 0, len(self.classes) - 1)
        bad = self.classes[idx] != y
        if np.any(bad):
            unknown = np.unique(y[bad])[:5]
            raise DataError(f"{what} contain labels not seen in training: {', '.join(map(repr, unknown.tolist()))}.")
        return idx.astype(np.int64)

    def decode(self, idx) -> np.ndarray:
        return self.classes[np.asarray(idx, dtype=np.int64)]


def decide_task(loss, model, y: np.ndarray, task=None, classes=None) -> str:
    """A declaration decides (``task=``, the loss, a preset model, ``classes=``), then the targets' dtype."""
    task = declared_task(loss, model, task, classes) or infer_task(y)
    if task == REGRESSION and y.dtype.kind not in "biuf":
        raise DataError(
            f"regression needs numeric targets but y has dtype {y.dtype}; use a classification loss such as "
            '"cross_entropy" for labels.'
        )
    return task


def declared_codec(classes, seen: np.ndarray) -> LabelCodec:
    """The codec of declared ``classes=`` (a count K: labels 0..K-1; or the names); every label seen
    must be one of them."""
    names = np.arange(classes) if isinstance(classes, int) else np.unique(np.asarray(classes))
    try:
        missing = [v for v in seen.tolist() if v not in set(names.tolist())]
    except TypeError:
        missing = seen.tolist()
    if missing:
        raise DataError(
            f"the labels include {', '.join(map(repr, missing[:5]))}, which classes= does not name; "
            f"declared: {', '.join(map(repr, names.tolist()[:10]))}."
        )
    return LabelCodec(names)


def item_classes(opts, names, y_all, yb):
    """``(n_classes, codec)`` for classification, checked against the labels known."""
    declared = opts.classes
    names = declared if isinstance(declared, list) else names if declared is None else None
    labels = y_all if y_all is not None else yb.cpu().numpy()
    if labels.dtype.kind not in "iub":
        raise DataError("a Dataset for classification must yield integer class indices 0..K-1 as targets.")
    if labels.size and labels.min() < 0:
        raise DataError("Dataset class indices must be >= 0.")
    if isinstance(declared, int):
        n_classes = declared
    elif names is not None:
        n_classes = len(names)
    elif y_all is not None:
        n_classes = int(y_all.max()) + 1
    else:
        raise ConfigError(
            "the classes of this IterableDataset are unknown: declare classes=K (--classes K) or the class names."
        )
    if labels.size and int(labels.max()) >= n_classes:
        raise DataError(
            f"the Dataset has label {int(labels.max())} but {n_classes} classes were declared "
            f"(labels must be 0..{n_classes - 1}); fix classes= or the targets."
        )
    codec = LabelCodec(np.asarray(names) if names is not None else np.arange(n_classes))
    return n_classes, codec
