"""Preprocessing presets -> scikit-learn transformers, always fitted on the train split only.

``"dropna"`` and ``"drop_duplicates"`` remove rows; they clean the data *before* it is split (no
statistics are learned, and dropping duplicates first keeps copies of a row out of both train and
test).  Every other step is a transformer fitted on the training rows and applied to validation,
test and ``predict`` inputs.

>>> build("impute:median | standardize")   # doctest: +SKIP
Pipeline(steps=[('impute', SimpleImputer(strategy='median')), ('standardize', StandardScaler())])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import batch
from .data import Table, _is_dataframe, is_inputs, is_sparse
from .errors import DataError, DataTypeError, PresetError, unknown_name
from .presets import Preset, parse_preset, split_pipeline

ROW_FILTERS = ("dropna", "drop_duplicates")
TRANSFORMS = ("impute", "standardize", "normalize", "onehot")
KNOWN = ROW_FILTERS + TRANSFORMS
IMPUTE_STRATEGIES = ("mean", "median", "most_frequent", "constant")


@dataclass
class PreprocessSpec:
    """What was declared: row filters, then transformer steps (or a user transformer)."""

    row_filters: list = field(default_factory=list)
    steps: list = field(default_factory=list)  # list[Preset]
    transformer: Any = None  # a user's scikit-learn transformer
    text: str | None = None

    @property
    def empty(self) -> bool:
        return not self.row_filters and not self.steps and self.transformer is None

    def has(self, name: str) -> bool:
        return any(p.name == name for p in self.steps)


def parse(preprocess) -> PreprocessSpec:
    if preprocess is None or preprocess == "" or preprocess == []:
        return PreprocessSpec()
    if isinstance(preprocess, str):
        items = split_pipeline(preprocess)
    elif isinstance(preprocess, (list, tuple)) and all(isinstance(p, str) for p in preprocess):
        items = [s for p in preprocess for s in split_pipeline(p)]
    elif hasattr(preprocess, "fit") and hasattr(preprocess, "transform"):
        return PreprocessSpec(transformer=preprocess)
    else:
        raise DataTypeError(
            f'preprocess must be a preset string like "impute:median | standardize", a list of presets '
            f"or a scikit-learn transformer; got {type(preprocess).__name__}."
        )
    spec = PreprocessSpec(text=" | ".join(items))
    for item in items:
        p = parse_preset(item)
        if p.name not in KNOWN:
            raise unknown_name("preprocessing step", p.name, KNOWN)
        if p.name in ROW_FILTERS:
            if p.args or p.kwargs:
                raise PresetError(f"preprocessing step {p.name!r} takes no arguments.")
            spec.row_filters.append(p.name)
        else:
            _check_step(p)
            spec.steps.append(p)
    return spec


def _check_step(p: Preset) -> None:
    if p.name == "impute":
        strategy = p.args[0] if p.args else p.kwargs.get("strategy", "mean")
        if strategy not in IMPUTE_STRATEGIES:
            raise unknown_name("impute strategy", strategy, IMPUTE_STRATEGIES)
        if len(p.args) > 1 or set(p.kwargs) - {"strategy", "fill_value"}:
            raise PresetError('impute takes one strategy, e.g. "impute:median" or "impute(constant, fill_value=0)".')
    elif p.args or p.kwargs:
        raise PresetError(f"preprocessing step {p.name!r} takes no arguments.")


def apply_row_filters(table: Table, spec: PreprocessSpec) -> Table:
    """Apply dropna / drop_duplicates to the whole data, before the split."""
    if not spec.row_filters:
        return table
    if table.structured or is_sparse(table.X):
        raise DataError(
            f"preprocessing {spec.text!r} works on one feature matrix; X has several inputs, so clean the "
            "rows before building it."
        )
    keep = np.ones(len(table), dtype=bool)
    X = table.X
    for name in spec.row_filters:
        if name == "dropna":
            if _is_dataframe(X):
                bad = X.isna().to_numpy().any(axis=1)
            else:
                flat = X.reshape(len(X), -1)
                bad = ~np.isfinite(flat).all(axis=1) if flat.dtype.kind == "f" else np.zeros(len(X), bool)
            y = table.y
            if y.dtype.kind == "f":
                bad |= ~np.isfinite(y.reshape(len(y), -1)).all(axis=1)
            keep &= ~bad
        else:  # drop_duplicates: same features and same target
            flat = X.to_numpy() if _is_dataframe(X) else X.reshape(len(X), -1)
            rows = [tuple(map(_hashable, r)) + (_hashable(t),) for r, t in zip(flat.tolist(), table.y.tolist())]
            seen, dup = set(), np.zeros(len(rows), bool)
            for i, r in enumerate(rows):
                dup[i] = r in seen
                seen.add(r)
            keep &= ~dup
    if not keep.any():
        raise DataError(f"preprocessing {spec.text!r} removed every row; check the data for missing values.")
    return table.take(np.flatnonzero(keep))


def _hashable(v):
    if isinstance(v, float) and v != v:
        return "nan"
    return tuple(v) if isinstance(v, list) else v


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
    if _is_dataframe(X):
        return _build_frame(spec, X)
    if spec.has("onehot"):
        raise DataError('"onehot" encodes categorical DataFrame columns; X is a numeric array, so drop "onehot".')
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

    numeric = [c for c in X.columns if X[c].dtype.kind in "biuf"]
    categorical = [c for c in X.columns if c not in numeric]
    if categorical and not spec.has("onehot"):
        raise DataError(
            f"column {categorical[0]!r} is not numeric (dtype {X[categorical[0]].dtype}); "
            'add "onehot" to preprocess to encode it, or drop the column.'
        )
    parts = []
    num_steps = [(p.name, _make(p)) for p in spec.steps if p.name != "onehot"]
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
    if transformer is None and not _is_dataframe(X) and not is_sparse(X):
        return _plain(np.asarray(X), what, keep_ints)
    if is_sparse(X):
        return _sparse(transformer, X, fit, what)
    shape = None
    if not _is_dataframe(X) and X.ndim > 2:
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
    elif _is_dataframe(X):
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
