"""Model presets: linear, logistic, svm, mlp(...), cnn(...).  Input/output sizes come from the data.

>>> build_model("mlp(32, 32, dropout=0.1)", sample_shape=(4,), out_features=3)   # doctest: +SKIP
"""

from __future__ import annotations

import math

from torch import nn

from .errors import PresetError, ShapeError, unknown_name
from .presets import Preset, check_kwargs, parse_preset

KNOWN = ("linear", "logistic", "svm", "mlp", "cnn")
ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}
DEFAULT_LOSS = {"svm": "hinge"}


def parse_model(spec) -> Preset:
    p = parse_preset(spec)
    if p.name not in KNOWN:
        raise unknown_name("model", p.name, KNOWN)
    return p


def _int_sizes(p: Preset, what: str) -> list[int]:
    sizes = []
    for a in p.args:
        for v in a if isinstance(a, tuple) else (a,):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise PresetError(f'{p.name}: {what} must be positive integers, e.g. "{p.name}(64, 64)"; got {v!r}.')
            sizes.append(v)
    return sizes


def _activation(p: Preset):
    name = str(p.kwargs.get("activation", "relu")).lower()
    if name not in ACTIVATIONS:
        raise unknown_name("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]


def _dropout(p: Preset) -> float:
    d = p.kwargs.get("dropout", 0.0)
    if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d < 1:
        raise PresetError(f"{p.name}: dropout must be a number in [0, 1), got {d!r}.")
    return float(d)


class _AddChannel(nn.Module):
    """(N, H, W) images -> (N, 1, H, W)."""

    def forward(self, x):
        return x.unsqueeze(1) if x.dim() == 3 else x


def build_model(spec, sample_shape: tuple, out_features: int) -> nn.Module:
    """Build a preset model for samples of ``sample_shape`` with ``out_features`` outputs."""
    p = spec if isinstance(spec, Preset) else parse_model(spec)
    n_in = math.prod(sample_shape)
    if p.name in ("linear", "logistic", "svm"):
        check_kwargs(p, set(), "model")
        if p.args:
            raise PresetError(f"model {p.name!r} takes no arguments; its sizes come from the data.")
        return nn.Sequential(nn.Flatten(), nn.Linear(n_in, out_features))
    if p.name == "mlp":
        check_kwargs(p, {"dropout", "activation", "batchnorm"}, "model")
        sizes = _int_sizes(p, "hidden sizes") or [64]
        act, drop = _activation(p), _dropout(p)
        layers: list[nn.Module] = [nn.Flatten()]
        prev = n_in
        for h in sizes:
            layers.append(nn.Linear(prev, h))
            if p.kwargs.get("batchnorm"):
                layers.append(nn.BatchNorm1d(h))
            layers.append(act())
            if drop:
                layers.append(nn.Dropout(drop))
            prev = h
        layers.append(nn.Linear(prev, out_features))
        return nn.Sequential(*layers)
    if p.name == "cnn":
        return _build_cnn(p, sample_shape, out_features)
    raise AssertionError(p.name)


def _build_cnn(p: Preset, sample_shape: tuple, out_features: int) -> nn.Module:
    check_kwargs(p, {"kernel", "hidden", "dropout", "activation"}, "model")
    if len(sample_shape) == 2:
        channels_in, hw = 1, sample_shape
    elif len(sample_shape) == 3:
        channels_in, hw = sample_shape[0], sample_shape[1:]
    else:
        raise ShapeError(
            f"cnn needs image data shaped (N, C, H, W) or (N, H, W), but samples have shape {tuple(sample_shape)}; "
            'reshape X, e.g. X.reshape(-1, 1, 8, 8), or use "mlp".'
        )
    channels = _int_sizes(p, "channel counts") or [16, 32]
    kernel = p.kwargs.get("kernel", 3)
    hidden = p.kwargs.get("hidden", 64)
    if not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise PresetError(f"cnn: kernel must be an odd positive integer, got {kernel!r}.")
    act, drop = _activation(p), _dropout(p)
    layers: list[nn.Module] = [_AddChannel()]
    prev, (h, w) = channels_in, hw
    for c in channels:
        layers += [nn.Conv2d(prev, c, kernel, padding=kernel // 2), act()]
        if min(h, w) >= 2:  # pool while the image is big enough
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        prev = c
    layers += [nn.Flatten()]
    flat = prev * h * w
    if hidden:
        layers += [nn.Linear(flat, int(hidden)), act()]
        if drop:
            layers.append(nn.Dropout(drop))
        flat = int(hidden)
    layers.append(nn.Linear(flat, out_features))
    return nn.Sequential(*layers)
