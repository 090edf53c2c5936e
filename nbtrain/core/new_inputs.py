"""New inputs as a run's model was trained on them (``run.predict``): raw texts through the run's
tokenizer, several inputs checked against the ones trained on, a table or array through the fitted
preprocessing and the dtype rule, on the run's device.

>>> features_for(run, X_new[:5])        # doctest: +SKIP
"""

from __future__ import annotations

import torch

from . import texts
from .batch import apply, named_leaves
from .errors import DataError
from .forms import is_dataset, is_inputs
from .preprocess import features
from .score import check_predict_input
from .sources.arrays import as_features, stacked_rows
from .sources.files import is_path, read_table
from .tensor_batches import as_tensor


def features_for(run, X):
    """``X`` as the model takes it: a tensor, or a structure of tensors (several inputs, tokens)."""
    words = texts.as_texts(X) if run.preprocess is None else None  # a run on a table may take str columns
    if words is not None:
        return texts.encode(run, words)  # through run.tokenizer
    shapes = run.config.get("input_shapes")
    if shapes is not None:
        return _several(run, X, shapes)
    if isinstance(X, tuple) and len(X) == 2 and not isinstance(X[0], (int, float)):
        raise DataError("predict takes features X only, not (X, y).")
    if is_dataset(X):
        raise DataError("predict takes in-memory features (array, tensor or DataFrame), not a Dataset.")
    if is_path(X):  # a CSV / Parquet file: its columns, less the target column where it has one
        X = read_table(X, "predict input")
        target = run.config.get("target")
        names = target if isinstance(target, list) else [] if target is None else [target]  # a list: multi-hot
        X = X.drop(columns=[c for c in names if c in X.columns])
    check_predict_input(run, X)
    X = as_features(stacked_rows(X), "X")  # a run on one array: a list of row arrays is its rows
    shape = run.config.get("input_shape")
    keep = bool(run.config.get("int_inputs", False))
    feats = features(run.preprocess, X, fit=False, what="predict input", keep_ints=keep)
    if shape is not None and tuple(feats.shape[1:]) != tuple(shape):
        raise DataError(
            f"predict input has samples of shape {tuple(feats.shape[1:])} after preprocessing, "
            f"but the model was trained on {tuple(shape)}."
        )
    return as_tensor(feats).to(run._device)


def _several(run, X, shapes: dict):
    """Several inputs (a tuple or dict of arrays), checked against the ones trained on."""
    if not is_inputs(X):
        raise DataError(
            f"this run was trained on several inputs ({', '.join(shapes)}); give predict the same "
            "structure, e.g. a dict of arrays."
        )
    X = as_features(X, "X")
    got = {path: list(a.shape[1:]) for path, a in named_leaves(X)}
    if got != shapes:
        raise DataError(f"predict input has inputs {got}, but the model was trained on {shapes}.")
    feats = features(None, X, fit=False, what="predict input", keep_ints=bool(run.config.get("int_inputs")))
    return apply(lambda a: torch.from_numpy(a).to(run._device), feats)
