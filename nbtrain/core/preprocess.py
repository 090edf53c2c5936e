"""Preprocessing: the declared steps as scikit-learn transformers, fitted on the train split only and
applied to validation, test and ``predict`` inputs; then the features as arrays by the dtype rule.
Row filters (``dropna``, ``drop_duplicates``) are not here: they clean the whole data before the
split (:mod:`~nbtrain.core.clean`); the declaration itself is parsed by :mod:`~nbtrain.core.declared`.

>>> build(parse("impute:median | standardize"), X)   # doctest: +SKIP
Pipeline(steps=[('impute', SimpleImputer(strategy='median')), ('standardize', StandardScaler())])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import batch
from .declared import PreprocessSpec
from .errors import DataError
from .forms import is_dataframe, is_inputs, is_sparse
from .presets import Preset


def _make(p: Preset, categorical: bool = False):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

    if p.name == "impute":
        strategy = p.args[0] if p.args else p.kwargs.get("strategy", "mean")
        if categorical and strategy in ("mean", "median"):
            strategy = "most_frequent"  # a mean of categories does not exist
        kw = {"fill_value": p.kwargs["fill_value"]} if "fill_value" in p.kwargs else {}
        return SimpleImputer(strategy=strategy, **kw)
    if p.name == "standardize":
        return StandardScaler()
    if p.name == "normalize":
        return MinMaxScaler()
    if p.name == "onehot":
        return OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    raise AssertionError(p.name)


def build(spec: PreprocessSpec, X) -> Any:
    """A scikit-learn transformer for the declared steps (unfitted), or None for no preprocessing."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    if is_inputs(X) and not spec.empty:
        raise DataError(
            "preprocess works on one feature matrix, but X has several inputs "
            f"({', '.join(p or 'X' for p, _ in batch.named_leaves(X))}); transform each array before building X."
        )
    if spec.transformer is not None:
        return clone(spec.transformer)
    if is_sparse(X):
        return _build_sparse(spec)
    if is_dataframe(X):
        return _build_frame(spec, X)
    if spec.has("onehot"):
        raise DataError('"onehot" encodes categorical DataFrame columns; X is a numeric array, so drop "onehot".')
    if spec.has("drop"):
        raise DataError('"drop:COLUMN" leaves out DataFrame columns by name; X is an array without column names.')
    if not spec.steps:
        return None
    return Pipeline([(p.name, _make(p)) for p in spec.steps])


class SparseScalingWarning(UserWarning):
    """``standardize`` on a sparse matrix scales without centring (centring would make it dense)."""


def _build_sparse(spec: PreprocessSpec):
    """Sparse features stay sparse: ``standardize`` scales by the standard deviation without
    subtracting the mean (as scikit-learn's ``StandardScaler(with_mean=False)``), said in one line."""
    import warnings

    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    other = [p.name for p in spec.steps if p.name != "standardize"]
    if other:
        raise DataError(
            f"preprocessing step {other[0]!r} would make the sparse matrix dense; with sparse features use "
            '"standardize" only, or pass a scikit-learn transformer that keeps it sparse.'
        )
    if not spec.steps:
        return None
    warnings.warn(
        '"standardize" on sparse features scales each column by its standard deviation without centring '
        "(centring would make the matrix dense), as StandardScaler(with_mean=False) does.",
        SparseScalingWarning,
        stacklevel=4,
    )
    return Pipeline([("standardize", StandardScaler(with_mean=False))])


def _build_frame(spec: PreprocessSpec, X):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    dropped = spec.dropped
    missing = [c for c in dropped if c not in X.columns]
    if missing:
        cols = ", ".join(map(str, list(X.columns)[:20]))
        raise DataError(f"drop: column {missing[0]!r} is not in the data; its columns are {cols}.")
    kept = [c for c in X.columns if c not in dropped]  # a ColumnTransformer drops the columns it is not given
    numeric = [c for c in kept if X[c].dtype.kind in "biuf"]
    categorical = [c for c in kept if c not in numeric]
    if categorical and not spec.has("onehot"):
        raise DataError(
            f"column {categorical[0]!r} is not numeric (dtype {X[categorical[0]].dtype}); "
            f'add "onehot" to preprocess to encode it, or leave it out with "drop:{categorical[0]}".'
        )
    parts = []
    num_steps = [(p.name, _make(p)) for p in spec.steps if p.name not in ("onehot", "drop")]
    if numeric:
        parts.append(("num", Pipeline(num_steps) if num_steps else "passthrough", numeric))
    if categorical:
        cat_steps = [(p.name, _make(p, categorical=True)) for p in spec.steps if p.name in ("impute", "onehot")]
        parts.append(("cat", Pipeline(cat_steps), categorical))
    return ColumnTransformer(parts, sparse_threshold=0.0, verbose_feature_names_out=False)


def features(transformer, X, fit: bool, what: str, keep_ints: bool = False):
    """Fit (train split only) and/or apply the transformer; return the features: float32, or, with
    ``keep_ints`` (a model of the user's own, no transformer), integer and boolean arrays as they are
    (token ids, categorical indices).  Several inputs (a tuple/dict of arrays) go entry by entry."""
    if is_inputs(X):
        return batch.apply(lambda a: _plain(np.asarray(a), what, keep_ints), X)
    if transformer is None and not is_dataframe(X) and not is_sparse(X):
        return _plain(np.asarray(X), what, keep_ints)
    if is_sparse(X):
        return _sparse(transformer, X, fit, what)
    shape = None
    if not is_dataframe(X) and X.ndim > 2:
        shape = X.shape[1:]  # images: per-pixel preprocessing on a flat view
        X = X.reshape(len(X), -1)
    if transformer is not None:
        try:
            out = transformer.fit_transform(X) if fit else transformer.transform(X)
        except (ValueError, TypeError) as exc:
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            text = text if len(text) <= 180 else text[:177] + "..."
            raise DataError(f"preprocessing failed on {what}: {text}") from None
        if hasattr(out, "toarray"):
            out = out.toarray()
        X = out
    elif is_dataframe(X):
        X = X.to_numpy()
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f'{what} features are not numeric after preprocessing (dtype {X.dtype}); add "onehot".')
    X = X.astype(np.float32, copy=False)
    return _finite(X, what, shape)


def _sparse(transformer, X, fit: bool, what: str):
    """A scipy sparse matrix through the transformer, kept sparse (CSR, float32, finite)."""
    if transformer is not None:
        try:
            X = transformer.fit_transform(X) if fit else transformer.transform(X)
        except (ValueError, TypeError) as exc:
            raise DataError(f"preprocessing failed on {what}: {str(exc).strip().splitlines()[0][:180]}") from None
    if not is_sparse(X):
        return _finite(np.asarray(X, dtype=np.float32), what, None)
    X = X.tocsr().astype(np.float32)
    if not np.isfinite(X.data).all():
        raise DataError(f"{what} has NaN or infinite values in its sparse matrix; fill or drop them first.")
    return X


def _plain(X: np.ndarray, what: str, keep_ints: bool) -> np.ndarray:
    """One array without a transformer: the dtype rule (floats -> float32; integers and booleans kept
    with ``keep_ints``), finite values checked."""
    if X.dtype.kind not in "biuf":
        raise DataError(f'{what} features are not numeric after preprocessing (dtype {X.dtype}); add "onehot".')
    if keep_ints and X.dtype.kind in "biu":
        if X.dtype.kind == "u" and X.dtype.itemsize > 1:
            X = X.astype(np.int64)  # torch has no uint16/32/64 tensors for every op
        return X
    return _finite(X.astype(np.float32, copy=False), what, None)


def _finite(X: np.ndarray, what: str, shape) -> np.ndarray:
    if not np.isfinite(X).all():
        n_bad = int((~np.isfinite(X)).any(axis=tuple(range(1, X.ndim))).sum())
        raise DataError(
            f'{what} has NaN or infinite feature values in {n_bad} row(s); add "impute" '
            '(e.g. preprocess="impute:median | standardize") or "dropna" to preprocess.'
        )
    if shape is not None:
        if X.shape[1] != int(np.prod(shape)):
            raise DataError(
                f"preprocessing changed {what} from {int(np.prod(shape))} to {X.shape[1]} values per sample, so the "
                f"samples no longer have shape {tuple(shape)} (impute drops features that are missing in every "
                "training row); fill those values first."
            )
        X = X.reshape((len(X),) + tuple(shape))
    return X
