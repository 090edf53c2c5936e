"""Scoring a run on new labelled data: ``run.evaluate(data=(X, y))`` and ``%evaluate NAME --data EXPR``.

The features go through the run's fitted preprocessing (as ``run.predict``), the labels are given in
the data's own type (class names, strings, numbers) and encoded with the run's label encoding; the
metrics are the ones ``run.evaluate`` computes on a split (scikit-learn's).

>>> run.evaluate(data=(X_new, y_new))                 # doctest: +SKIP
{'accuracy': 0.95, 'precision': 0.95, ...}
"""

from __future__ import annotations

import numpy as np

from . import targets as kinds
from .errors import DataError
from .evaluation import decide, decoded
from .metrics import DEFAULT_EVAL, compute, parse_metrics
from .sources.files import is_path, read_table


def labelled(run, data) -> tuple:
    """``(X, y)`` from ``data``: a pair, or a DataFrame (or CSV / Parquet path) holding the run's
    target column."""
    if is_path(data):
        data = read_table(data, "evaluation data")
    target = (getattr(run, "config", None) or {}).get("target")
    columns = getattr(data, "columns", None)
    if columns is not None and not isinstance(data, tuple):
        names = target if isinstance(target, list) else [target]  # a list: the columns of a multi-hot target
        if target is None or any(c not in columns for c in names):
            what = f"its target column {target!r}" if target else "a target column"
            raise DataError(f"evaluation data is a table without {what}; pass data=(X, y) with the labels in y.")
        return data.drop(columns=names), data[target]
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError(
            f"evaluation data must be a pair (X, y) of features and labels, got {type(data).__name__}; "
            "e.g. run.evaluate(data=(X_new, y_new))."
        )
    X, y = data
    n_x, n_y = _rows(X), _rows(y)
    if n_x is not None and n_y is not None and n_x != n_y:
        raise DataError(f"evaluation data has {n_x} rows of features but {n_y} labels; they must match.")
    return X, y


def _rows(a):
    try:
        return len(a)
    except TypeError:
        return None


def targets(run, y) -> np.ndarray:
    """``y`` as the metrics take it: class indices (from labels in the data's own type), 0/1 rows
    (multi-hot), class indices per position with -100 (per position), or floats."""
    kind = _kind(run)
    if kind == kinds.MULTIHOT and hasattr(y, "columns") and (run.config or {}).get("named_classes"):
        y = _class_columns(run, y)
    y = y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y)
    if kind in (kinds.MULTIHOT, kinds.POSITIONS):
        if y.dtype.kind == "b" or (y.dtype.kind == "f" and np.array_equal(y, np.round(y))):
            y = y.astype(np.int64)  # True/False or 0.0/1.0 rows, float labels that are whole numbers
        kinds.check(kind, y, "evaluation labels")
        return y
    if run.task == "classification":
        return run.codec.encode(y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y, "evaluation labels")
    return y.astype(np.float64)


def _class_columns(run, y):
    """A DataFrame of 0/1 columns in the order of the run's named classes (its columns by name)."""
    names = list(run.codec.classes.tolist())
    missing = [c for c in names if c not in y.columns]
    if missing:
        raise DataError(
            f"evaluation labels have no column {missing[0]!r}; the run's classes are {names} (one 0/1 column each)."
        )
    return y[names]


def evaluate_on(run, data, metrics=None) -> dict:
    """Metrics of ``run`` on labelled ``data`` (see :func:`labelled`), as floats."""
    if run.task not in ("classification", "regression"):
        raise DataError(f"evaluate(data=...) scores classification and regression runs; this run is {run.task}.")
    kind, config = _kind(run), getattr(run, "config", None) or {}
    names = parse_metrics(metrics, run.task, default=DEFAULT_EVAL, kind=kind, images=config.get("target_ndim", 1) >= 3)
    y_true, pred, scores = _scored(run, data)
    n_classes = run.codec.n_classes if run.codec is not None else 0
    if kind in (kinds.MULTIHOT, kinds.POSITIONS):
        values = kinds.compute(names, kind, y_true, pred, scores, n_classes)
        if kind == kinds.POSITIONS and "iou" in names:  # and each class's own, as Run.evaluate gives them
            values.update(kinds.class_iou(y_true, pred, run.codec.classes))
        return values
    return {k: float(v) for k, v in compute(names, run.task, y_true, pred, scores, n_classes).items()}


def predictions_on(run, data) -> dict:
    """Like ``Run.predictions`` for labelled ``data``: {'y_true', 'y_pred', 'scores', ...} (for plots)."""
    y_true, pred, scores = _scored(run, data)
    if _kind(run) == kinds.MULTIHOT:
        return {"y_true": y_true, "y_pred": pred, "scores": scores, "classes": run.codec.classes}
    return decoded(run.codec, run.task, y_true, pred, scores)


def _scored(run, data) -> tuple:
    """``(y_true, pred, scores)`` of labelled ``data``; per-position targets as their labelled positions."""
    X, y = labelled(run, data)
    y_true = targets(run, y)
    pred, scores = run_decide(run, X)
    if len(y_true) != len(pred):
        raise DataError(f"evaluation data has {len(pred)} rows of features but {len(y_true)} labels.")
    if _kind(run) == kinds.POSITIONS:
        if y_true.shape != pred.shape:
            raise DataError(
                f"evaluation labels have shape {y_true.shape[1:]} a row, "
                f"but the model gives {pred.shape[1:]} positions."
            )
        keep = y_true != kinds.IGNORE  # -100 counts nowhere
        return y_true[keep], pred[keep], scores[keep]
    return y_true, pred, scores


def _kind(run) -> str:
    return getattr(run, "target_kind", None) or (getattr(run, "config", None) or {}).get("target_kind") or "label"


def run_decide(run, X):
    """(pred, scores) for features ``X``: class indices and probabilities, or values in the target's units."""
    n_classes = run.codec.n_classes if getattr(run, "codec", None) is not None else 0
    return decide(run._outputs(X), run.task, _kind(run), n_classes)


def check_predict_input(run, X) -> None:
    """A run trained on a DataFrame takes a DataFrame with its columns: an array or tensor is refused
    with the columns it expects (instead of scikit-learn's "Specifying the columns using strings ...")."""
    names = getattr(run.preprocess, "feature_names_in_", None)
    if names is None or hasattr(X, "columns"):
        return
    cols = [str(c) for c in names]
    shown = ", ".join(cols[:20]) + (f", ... ({len(cols)} in all)" if len(cols) > 20 else "")
    raise DataError(
        f"run {run.name!r} was trained on a DataFrame and needs one with its columns: {shown}; got "
        f"{type(X).__name__}. Pass e.g. pd.DataFrame(X, columns=[...]) or the DataFrame itself."
    )
