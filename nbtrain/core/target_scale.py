"""A regression target far from unit scale is standardised for training, by default.

A target of 20-60 trained as it is starts every model's output near 0 and needs the optimizer to walk
the bias to 40 first: with Adam's default rate that takes thousands of steps (the issue's case: r2 of
-4.86 after 5 epochs).  Standardising the target is what scikit-learn's ``TransformedTargetRegressor``
does, and how it is done here keeps everything the user sees in the target's own units:

- the model gets a forward hook ``out * std + mean`` (mean and std of the *training* targets), so the
  model, ``run.predict``, the metrics (mse, mae, r2) and ``run.model(x)`` are in the target's units;
- the loss is the preset loss on standardised values, ``loss((out - mean) / std, (y - mean) / std)``:
  the gradients are those of training on the standardised target (well scaled for any optimizer), and
  ``train_loss`` / ``val_loss`` are in standardised units (an mse of 1.0 is the variance of the target).

When: a regression run with the preset loss mse or mae (not huber, whose ``delta`` is in the target's own
units, so that standardising would change which residuals count as outliers) whose training targets have a mean beyond
``FAR`` or a standard deviation outside [1/FAR, FAR].  ``run.config["target_scale"]`` records it (saved
with the run; ``nbtrain.load`` puts the hook back).

>>> far_from_unit(torch.tensor([20.0, 40.0, 60.0]))
True
>>> far_from_unit(torch.tensor([-1.0, 0.5, 1.5]))
False
"""

from __future__ import annotations

import dataclasses

import torch

#: a mean beyond FAR, or a standard deviation outside [1/FAR, FAR], is "far from unit scale"
FAR = 3.0
_ATTR = "_nbtrain_target_scale"


def far_from_unit(y: torch.Tensor) -> bool:
    y = y.double().reshape(len(y), -1)
    mean, std = y.mean(0), y.std(0) if len(y) > 1 else torch.ones(y.shape[1], dtype=torch.double)
    if not torch.isfinite(mean).all() or (std <= 0).any():
        return False
    return bool((mean.abs() > FAR).any() or (std > FAR).any() or (std < 1 / FAR).any())


def attach(net: torch.nn.Module, mean, std) -> None:
    """Make ``net``'s tensor output ``out * std + mean`` (replacing an earlier run's hook on it)."""
    detach(net)
    m, s = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)

    def hook(module, args, out):
        if not isinstance(out, torch.Tensor):
            return out
        return out * s.to(out.device, out.dtype) + m.to(out.device, out.dtype)  # 0-d, or one per column

    setattr(net, _ATTR, net.register_forward_hook(hook))


def detach(net: torch.nn.Module) -> None:
    handle = net.__dict__.pop(_ATTR, None)
    if handle is not None:
        handle.remove()


def restore(net: torch.nn.Module, config: dict) -> None:
    """After loading a saved run: the hook its config records (or none)."""
    scale = (config or {}).get("target_scale")
    if scale:
        attach(net, scale["mean"], scale["std"])
    else:
        detach(net)


def standardize(parts, inputs, enabled: bool = True):
    """``(parts, scale)``: with the hook on ``parts.net`` and the loss on standardised values when the
    training target is far from unit scale; else ``(parts, None)`` and no hook.  ``enabled=False``
    (``scale_target=False``): never."""
    detach(parts.net)
    if not enabled:
        return parts, None
    loss = parts.loss
    y = getattr(inputs.batches.get("train"), "y", None)
    if inputs.task != "regression" or loss.task != "regression" or not isinstance(y, torch.Tensor):
        return parts, None
    if not y.is_floating_point() or len(y) < 2 or not far_from_unit(y):
        return parts, None
    if loss.name == "huber":  # its delta is in the target's units: standardising would move the outlier cut
        return parts, None
    flat = y.double().reshape(len(y), -1)
    mean, std = flat.mean(0), flat.std(0)
    if y.dim() == 1:
        mean, std = mean.reshape(()), std.reshape(())
    scale = {"mean": mean.tolist(), "std": std.tolist()}
    attach(parts.net, scale["mean"], scale["std"])
    base = loss.fn
    m, s = mean.float(), std.float()

    def fn(out, target):
        mo, so = m.to(out.device, out.dtype), s.to(out.device, out.dtype)
        mt, st = m.to(target.device, target.dtype), s.to(target.device, target.dtype)
        return base((out - mo) / so, (target - mt) / st)

    scaled = dataclasses.replace(loss, fn=fn)
    return dataclasses.replace(parts, loss=scaled), scale


def hint(scale: dict) -> str:
    """The one line that says so."""
    mean, std = scale["mean"], scale["std"]
    if isinstance(mean, list):
        return (
            "the regression targets are far from unit scale; they are standardised for training "
            "(predictions and metrics stay in their own units; losses are in standard deviations)."
        )
    return (
        f"the regression target is far from unit scale (mean {mean:.4g}, sd {std:.4g}); it is standardised "
        "for training: predictions and metrics stay in its own units, train_loss/val_loss are standardised."
    )
