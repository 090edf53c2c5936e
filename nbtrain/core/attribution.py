"""Attributions of a run's outputs to its raw inputs, through the fitted preprocessing (captum, lazily).

The model sees ``preprocess(x)``; an attribution to the raw ``x`` needs a differentiable path through
the preprocessing.  The fitted steps nbtrain writes in torch are the ones its presets make:
``StandardScaler`` (standardize), ``MinMaxScaler`` (normalize), ``SimpleImputer`` (impute: missing values
take the fitted statistic, so their attribution is 0), a ``Pipeline`` of these, a ``ColumnTransformer``
of these over numeric DataFrame columns, or no preprocessing.  Any other transformer (``onehot``, your
own) is an :class:`ExplainError`; ``space="features"`` then attributes to the preprocessed features.

>>> attr = run.explain().attribute(X_test[:4])        # doctest: +SKIP
>>> attr.shape == X_test[:4].shape                    # doctest: +SKIP
True
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import ConfigError, DataError, ExplainError
from .forms import is_dataframe as _is_dataframe
from .progress import ticker

METHODS = ("integrated_gradients", "saliency")
SPACES = ("raw", "features")
#: rows attributed at once (one progress tick each); integrated gradients run ``steps`` forwards a row
CHUNK = 64
#: integrated gradients: a row whose attributions miss its logit gap by more than this share is computed
#: again with twice the steps, up to ``REFINE`` times (only that row: the others keep their first answer)
COMPLETENESS, REFINE = 0.05, 3


def _captum():
    try:
        import captum.attr
    except ImportError:
        raise ExplainError("attributions use captum; install it: pip install 'nbtrain[explain]'.") from None
    return captum.attr


def torch_preprocess(transformer, columns=None):
    """A torch function of flat raw rows ``(N, F)`` equal to ``transformer.transform`` (fitted), or an
    ExplainError naming the step that has no differentiable form here."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    def t(a):
        return torch.as_tensor(np.asarray(a, dtype=np.float32))

    if transformer is None or (isinstance(transformer, str) and transformer == "passthrough"):
        return lambda x: x
    if isinstance(transformer, Pipeline):
        fns = [torch_preprocess(step, columns) for _, step in transformer.steps]

        def pipe(x):
            for f in fns:
                x = f(x)
            return x

        return pipe
    if isinstance(transformer, StandardScaler):
        mean = t(transformer.mean_) if transformer.with_mean else None
        scale = t(transformer.scale_) if transformer.with_std else None
        return lambda x: (
            ((x - mean.to(x.device)) if mean is not None else x) / (scale.to(x.device) if scale is not None else 1.0)
        )
    if isinstance(transformer, MinMaxScaler):
        scale, low = t(transformer.scale_), t(transformer.min_)
        lo, hi = transformer.feature_range

        def minmax(x):
            y = x * scale.to(x.device) + low.to(x.device)
            return y.clamp(lo, hi) if transformer.clip else y

        return minmax
    if isinstance(transformer, SimpleImputer) and not transformer.add_indicator:
        stats = np.asarray(transformer.statistics_, dtype=np.float64)
        if np.isnan(stats).any() and not getattr(transformer, "keep_empty_features", False):
            raise ExplainError(
                "the imputer drops columns that were empty in training; attribute with space='features'."
            )
        fill = t(stats)
        return lambda x: torch.where(torch.isnan(x), fill.to(x.device), x)
    if isinstance(transformer, ColumnTransformer) and columns is not None:
        parts = []
        for _, step, cols in transformer.transformers_:
            if step == "drop" or (isinstance(cols, (list, np.ndarray)) and len(cols) == 0):
                continue
            idx = [columns.index(c) for c in cols] if not np.issubdtype(np.asarray(cols).dtype, np.integer) else cols
            parts.append((torch.as_tensor(np.asarray(idx, dtype=np.int64)), torch_preprocess(step, None)))
        return lambda x: torch.cat([f(x[:, i.to(x.device)]) for i, f in parts], dim=1)
    what = type(transformer).__name__
    raise ExplainError(
        f"attributions to the raw inputs go through the preprocessing, and {what} has no differentiable form here "
        "(supported: standardize, normalize, impute, none); attribute to the preprocessed features instead: "
        "ex.attribute(x, space='features')."
    )


def _rows(run, x, space: str):
    """x as a float32 tensor of rows, its original shape, and how to give the result back."""
    columns = None
    if _is_dataframe(x):
        if space == "raw":
            bad = [c for c in x.columns if x[c].dtype.kind not in "biuf"]
            if bad:
                raise ExplainError(
                    f"column {bad[0]!r} is not numeric, so it has no gradient; attribute to the encoded features: "
                    "ex.attribute(x, space='features')."
                )
        columns = list(x.columns)
        arr = x.to_numpy(dtype=np.float32) if space == "raw" else x
    elif isinstance(x, torch.Tensor):
        arr = x.detach().cpu().float().numpy()
    else:
        arr = np.asarray(x, dtype=np.float32)
    if space == "features":
        feats = run._features(arr).float()
        return feats, tuple(feats.shape), columns
    sample = tuple(run.config.get("input_shape") or ())
    shape = arr.shape
    if arr.ndim == max(1, len(sample)):
        arr = arr[None]  # one sample
    return torch.tensor(arr, dtype=torch.float32, device=run.device), shape, columns


def _targets(run, out: torch.Tensor, target) -> torch.Tensor:
    n = len(out)
    if target is None:
        if run.task == "classification":
            return out.argmax(dim=1)  # the predicted class (a one-output model: its two-column form below)
        return torch.zeros(n, dtype=torch.long, device=out.device)
    if run.task == "classification":
        k = int(run.codec.encode(np.asarray([target]), "target=")[0])
    else:
        k = int(target)
        if not 0 <= k < out.shape[1]:
            raise ConfigError(f"target= is an output column of 0..{out.shape[1] - 1} for this regression; got {k}.")
    return torch.full((n,), k, dtype=torch.long, device=out.device)


def _integrated(ig, xb, bb, tb, steps: int) -> torch.Tensor:
    """Integrated gradients with completeness checked row by row (captum's convergence delta: the
    attributions' sum minus the logit gap); rows off by more than 5 % of their gap get more steps."""

    def run(x, b, t, n, method):
        return ig.attribute(
            x,
            baselines=b,
            target=t,
            n_steps=n,
            method=method,
            internal_batch_size=max(n, 512),
            return_convergence_delta=True,
        )

    a, delta = run(xb, bb, tb, steps, "gausslegendre")  # captum's default
    with torch.no_grad():
        fx, fb = ig.forward_func(xb), ig.forward_func(bb)
        gap = (fx.gather(1, tb[:, None]) - fb.gather(1, tb[:, None]))[:, 0]
    for k in range(1, REFINE + 1):
        bad = delta.abs() > COMPLETENESS * gap.abs() + 1e-6
        if not bad.any():
            break
        # the trapezoid rule here: numpy's Gauss-Legendre nodes cost O(steps^3) to compute (0.8 s at 400)
        a[bad], delta[bad] = run(xb[bad], bb[bad], tb[bad], steps * 2**k, "riemann_trapezoid")
    return a


def check_arguments(method, space, steps) -> None:
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    if space not in SPACES:
        raise ConfigError(f"space must be 'raw' or 'features'; got {space!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ConfigError(f"steps must be an integer of at least 2, got {steps!r}.")


def attribute(
    run, x, *, method="integrated_gradients", baseline=0.0, target=None, steps=50, space="raw", progress=True
):
    """Attributions of ``x``'s rows (see :meth:`Explanation.attribute`)."""
    check_arguments(method, space, steps)
    cattr = _captum()
    xs, shape, columns = _rows(run, x, space)
    sample = tuple(run.config.get("input_shape") or xs.shape[1:])
    pre = (lambda v: v) if space == "features" else torch_preprocess(run.preprocess, columns)
    model = run.model

    def forward(v):
        feats = pre(v.reshape(len(v), -1)).reshape((len(v),) + sample)
        out = model(feats).float()
        out = out.reshape(len(v), -1)
        if run.task == "classification" and out.shape[1] == 1:
            out = torch.cat([-out, out], dim=1)  # one-output binary model: class 1's logit is the output
        return out

    try:
        base = torch.broadcast_to(torch.as_tensor(np.asarray(baseline, dtype=np.float32)).to(xs.device), xs.shape)
    except RuntimeError:
        raise DataError(f"baseline must be a number or broadcast to x's shape {tuple(xs.shape)}.") from None
    was_training = model.training
    model.eval()
    line = ticker(progress, f"{method.replace('_', ' ')} of {len(xs)} rows", -(-len(xs) // CHUNK))
    parts = []
    try:
        for i in range(0, len(xs), CHUNK):
            xb, bb = xs[i : i + CHUNK].contiguous(), base[i : i + CHUNK].contiguous()
            with torch.no_grad():
                tb = _targets(run, forward(xb), target)
            if method == "integrated_gradients":
                a = _integrated(cattr.IntegratedGradients(forward), xb, bb, tb, steps)
            else:
                a = cattr.Saliency(forward).attribute(xb.requires_grad_(), target=tb, abs=True)
            parts.append(a.detach().cpu())
            line(len(parts))
    finally:
        line.done()
        model.train(was_training)
    attr = torch.cat(parts).numpy().reshape(shape)
    if columns is not None and space == "raw":
        import pandas as pd

        return pd.DataFrame(attr, columns=x.columns, index=x.index)
    return attr
