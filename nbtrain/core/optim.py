"""Optimizer and scheduler presets.

``gd`` is true full-batch gradient descent (one step per epoch over the whole training split);
``sgd`` is mini-batch SGD.  Keyword arguments pass through: ``"sgd(lr=0.1, momentum=0.9)"``.
Where PyTorch has a fused implementation for the device, it is used: same update rule, fewer kernel
launches, and with fp16 no host sync in GradScaler's step (the kernel skips a step with inf
gradients itself).  Adam and AdamW are fused on CPU and CUDA; SGD on CUDA, and on the CPU with fp16;
Adagrad on the CPU with fp16.  (SGD on a CPU in fp32 keeps torch's default kernel, whose rounding
every CPU result so far was computed with.)  RMSprop has no fused kernel: with fp16 it costs one host
sync per optimizer step.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

from .errors import ConfigError, DataTypeError, PresetError, unknown_name
from .presets import parse_preset

OPTIMIZERS = {
    "gd": torch.optim.SGD,
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}
DEFAULT_LR = {"gd": 0.1, "sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}


# fused CPU kernels (Adam, AdamW, SGD, Adagrad) arrived in torch 2.4, the oldest torch nbtrain supports;
# an older torch still trains (torch's default kernels) instead of failing at the first step
_CPU_FUSED = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)


def _fuses(name: str, device: str, fp16: bool) -> bool:
    """Does the preset ``name`` get torch's fused kernel on ``device``?"""
    if device == "cpu" and not _CPU_FUSED:
        return False
    if name in ("adam", "adamw"):
        return device in ("cpu", "cuda")
    if name in ("sgd", "gd"):
        return device == "cuda" or (fp16 and device == "cpu")
    return name == "adagrad" and fp16 and device == "cpu"


SCHEDULERS = ("onecycle", "cosine", "step")


@dataclass
class OptimizerInfo:
    name: str
    lr: float


def check_lr(lr, where: str = "lr") -> None:
    if lr is None:
        return
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0 or lr != lr or lr == float("inf"):
        raise ConfigError(f"{where} must be a positive number, got {lr!r}; try e.g. lr=0.01.")


def optimizer_name(spec) -> str:
    if spec is None:
        return "adam"
    if isinstance(spec, str):
        p = parse_preset(spec)
        if p.name not in OPTIMIZERS:
            raise unknown_name("optimizer", p.name, OPTIMIZERS)
        return p.name
    return getattr(spec, "__name__", type(spec).__name__)


def build_optimizer(spec, params, lr=None, device: torch.device | None = None, fp16: bool = False):
    """Return ``(optimizer, OptimizerInfo)`` for a preset, a ``torch.optim`` class, a factory or an instance."""
    params = list(params)
    groups = params if params and isinstance(params[0], dict) else None  # parameter groups (lr by name)
    if groups is not None:
        params = [p for g in groups for p in g["params"]]
        if not isinstance(spec, (str, type)) and spec is not None:
            raise ConfigError(
                "lr as a dict of patterns needs a preset optimizer (e.g. 'adamw') or a torch.optim class."
            )
    params = [p for p in params if p.requires_grad] if groups is None else params
    if not any(p.requires_grad for p in params):
        raise ConfigError("the model has no trainable parameters; check requires_grad on its weights.")
    if spec is None:
        spec = "adam"
    if isinstance(spec, str):
        p = parse_preset(spec)
        if p.name not in OPTIMIZERS:
            raise unknown_name("optimizer", p.name, OPTIMIZERS)
        if p.args:
            raise PresetError(f'optimizer {p.name!r} takes keyword arguments only, e.g. "{p.name}(lr=0.01)".')
        cls = OPTIMIZERS[p.name]
        kwargs = dict(p.kwargs)
        if "lr" in kwargs and lr is not None and float(kwargs["lr"]) != float(lr):
            raise ConfigError(f"the learning rate is given twice ({spec!r} and lr={lr}); keep one of them.")
        rate = kwargs.pop("lr", lr if lr is not None else DEFAULT_LR[p.name])
        check_lr(rate, f"{p.name} lr")
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "params", "lr"}
        bad = sorted(set(kwargs) - allowed)
        if bad:
            raise PresetError(
                f"optimizer {p.name!r} does not take {', '.join(bad)}; it accepts "
                f"{', '.join(sorted(a for a in allowed if not a.startswith('_')))}."
            )
        if "fused" not in kwargs and "foreach" not in kwargs and _can_fuse(params, device, p.name, fp16):
            kwargs["fused"] = True
        try:
            opt = cls(groups or params, lr=float(rate), **kwargs)
        except (ValueError, TypeError) as exc:
            raise PresetError(f"optimizer {spec!r}: {exc}") from None
        return opt, OptimizerInfo(p.name, float(rate))
    if isinstance(spec, torch.optim.Optimizer):
        owned = {id(t) for g in spec.param_groups for t in g["params"]}
        if not all(id(t) in owned for t in params):
            raise ConfigError(
                "the optimizer instance was built for other parameters; build it from this model's parameters."
            )
        if lr is not None:
            for g in spec.param_groups:
                g["lr"] = float(lr)
        return spec, OptimizerInfo(type(spec).__name__, float(spec.param_groups[0]["lr"]))
    if isinstance(spec, type) and issubclass(spec, torch.optim.Optimizer):
        rate = lr if lr is not None else 1e-3
        return spec(groups or params, lr=float(rate)), OptimizerInfo(spec.__name__, float(rate))
    if callable(spec):
        opt = spec(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise DataTypeError(f"the optimizer factory returned {type(opt).__name__}, not a torch.optim.Optimizer.")
        if lr is not None:
            for g in opt.param_groups:
                g["lr"] = float(lr)
        name = getattr(spec, "__name__", type(opt).__name__)
        return opt, OptimizerInfo(name, float(opt.param_groups[0]["lr"]))
    raise DataTypeError(
        f'optimizer must be a preset like "adam" or "sgd(momentum=0.9)", a torch.optim class or a '
        f"factory; got {type(spec).__name__}."
    )


def _can_fuse(params, device, name: str, fp16: bool) -> bool:
    dev = device.type if device is not None else params[0].device.type
    return _fuses(name, dev, fp16) and all(p.is_floating_point() for p in params)


def fuse_for(optimizer, name: str, device: torch.device, fp16: bool) -> bool:
    """Switch a preset optimizer that was built for the CPU (a distributed run is prepared in the kernel)
    to torch's fused kernel where ``device`` and ``fp16`` call for it, before its first step.  Returns
    True if it switched.  Only presets are touched: a user's own optimizer keeps what it was given."""
    if name not in OPTIMIZERS or not _fuses(name, device.type, fp16) or optimizer.state:
        return False
    groups = optimizer.param_groups
    if any(g.get("fused") or g.get("foreach") or g.get("differentiable") for g in groups):
        return False
    if not all(p.is_floating_point() for g in groups for p in g["params"]):
        return False
    for g in groups:
        g["fused"], g["foreach"] = True, None
    # what the optimizers' __init__ sets for fused=True: GradScaler then hands the inf check to the kernel
    optimizer._step_supports_amp_scaling = True
    optimizer._need_device_dtype_check_for_fused = True
    return True


def build_scheduler(spec, optimizer, epochs: int, steps_per_epoch: int, lr: float):
    """Return ``(scheduler, per_batch)`` or ``(None, False)``."""
    if spec is None:
        return None, False
    if callable(spec) and not isinstance(spec, str):
        return spec(optimizer), False
    p = parse_preset(spec)
    if p.name not in SCHEDULERS:
        raise unknown_name("scheduler", p.name, SCHEDULERS)
    kw = dict(p.kwargs)
    S = torch.optim.lr_scheduler
    try:
        if p.name == "onecycle":
            kw.setdefault("max_lr", lr)
            return S.OneCycleLR(optimizer, epochs=epochs, steps_per_epoch=steps_per_epoch, **kw), True
        if p.name == "cosine":
            kw.setdefault("T_max", epochs)
            return S.CosineAnnealingLR(optimizer, **kw), False
        kw.setdefault("step_size", max(1, epochs // 3))
        if p.args:
            kw["step_size"] = p.args[0]
        return S.StepLR(optimizer, **kw), False
    except TypeError as exc:
        raise PresetError(f"scheduler {spec!r}: {exc}") from None
