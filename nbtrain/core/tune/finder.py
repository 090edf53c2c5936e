"""The learning-rate finder: an exponential ramp of the learning rate over a few hundred steps at most.

The run is built by :func:`~nbtrain.core.prepare.prepare` from the same declarations and options as
``train``; then every step multiplies the learning rate by a constant factor, from ``start_lr`` to
``end_lr``, until the smoothed loss exceeds ``diverge`` times its minimum or is not finite.
Afterwards the model's weights and gradients, the optimizer's state, the precision's scaler, the
batches' generator and the torch / numpy / Python RNGs (CUDA's too, where it is initialised) are put
back: nothing the user had changes, and a later seeded ``train`` is the same as without the finder.

The suggestion, ``rule="minimum"`` (the default), is fastai's ``minimum`` suggestion: the rate at
the smoothed loss's minimum divided by ten, one order of magnitude before the loss turns.
``rule="steepest"`` is Lightning's ``suggestion()``: the point of steepest descent of the smoothed
loss (here against log10(lr), searched between the first tenth of the ramp and the minimum).  The
steepest point moves with the smoothing's lag and with batch noise; on digits with ``mlp(64)`` it lands
near 0.07 where ``minimum`` gives 0.024 (10 epochs: test accuracy 0.94 against 0.97), hence the default.
Smoothing and the stop rule are both libraries' defaults: an EMA with beta = 0.98 (bias-corrected),
stop when it exceeds 4x its minimum (``diverge``) or a loss is not finite.

>>> finding = find_lr(dict(data=load_digits(return_X_y=True), model="mlp(64)"))   # doctest: +SKIP
>>> finding.suggestion                                                             # doctest: +SKIP
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError
from ..prepare import prepare
from ..step import Stepper

BETA = 0.98  # EMA smoothing of the loss (fastai's and Lightning's default)
MAX_STEPS = 1000


@dataclass
class LRFinding:
    """What the ramp saw: ``lrs``, raw ``losses``, ``smoothed`` losses, and the ``suggestion``."""

    lrs: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    smoothed: list = field(default_factory=list)
    suggestion: float | None = None
    index: int | None = None  # where the suggestion lies in ``lrs``
    rule: str = "minimum"
    reason: str = ""  # why the ramp ended: "reached end_lr", "loss diverged", "interrupted"
    start_lr: float = 1e-7
    end_lr: float = 10.0
    steps: int = 100
    config: dict = field(default_factory=dict)  # the prepared run's config (model, optimizer, ...)

    @property
    def interrupted(self) -> bool:
        return self.reason == "interrupted"


def check_finder(start_lr, end_lr, steps, diverge, rule="minimum") -> None:
    if rule not in RULES:
        raise ConfigError(f"lr_find: rule must be one of {', '.join(RULES)}, got {rule!r}.")
    for name, v in (("start_lr", start_lr), ("end_lr", end_lr), ("diverge", diverge)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ConfigError(f"lr_find: {name} must be a positive number, got {v!r}.")
    if start_lr >= end_lr:
        raise ConfigError(f"lr_find: start_lr ({start_lr:g}) must be below end_lr ({end_lr:g}), e.g. 1e-7 and 10.")
    if diverge <= 1:
        raise ConfigError(f"lr_find: diverge must be above 1 (a multiple of the minimum loss), got {diverge!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 5 <= steps <= MAX_STEPS:
        raise ConfigError(f"lr_find: steps must be an integer from 5 to {MAX_STEPS}, got {steps!r}.")


RULES = ("minimum", "steepest")


def suggest(lrs, smoothed, rule: str = "minimum") -> tuple:
    """``(suggested rate, index of the nearest point)`` by ``rule`` (see the module docstring)."""
    s = np.asarray(smoothed, dtype=float)
    n = len(s)
    if n < 2:
        return None, None
    lo = int(np.nanargmin(s))
    skip = max(1, n // 10)  # the first steps barely move the weights: their slope is noise
    if rule == "steepest" and lo - skip >= 3:
        x = np.log10(np.asarray(lrs[skip : lo + 1], dtype=float))
        i = skip + int(np.argmin(np.gradient(s[skip : lo + 1], x)))
        return float(lrs[i]), i
    rate = float(lrs[lo]) / 10
    return rate, int(np.argmin(np.abs(np.log(np.asarray(lrs, dtype=float)) - math.log(rate))))


# ---------------------------------------------------------------------------- the state put back afterwards
def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def _clone(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone(v) for v in obj)
    return obj


class _Saved:
    """The state of a model, its optimizer, the precision and the batches' generator, to put back."""

    def __init__(self, model, optimizer, precision, generator):
        self.model, self.optimizer, self.precision, self.generator = model, optimizer, precision, generator
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.grads = [(p, None if p.grad is None else p.grad.detach().clone()) for p in model.parameters()]
        self.training = model.training
        self.opt_state = _clone(optimizer.state_dict())
        self.scaler = _clone(precision.state_dict())
        self.gen = generator.get_state() if generator is not None else None

    def restore(self) -> None:
        with torch.no_grad():
            self.model.load_state_dict(self.weights)
        for p, g in self.grads:
            p.grad = g
        self.model.train(self.training)
        self.optimizer.load_state_dict(self.opt_state)
        if self.scaler:
            self.precision.load_state_dict(self.scaler)
        if self.gen is not None:
            self.generator.set_state(self.gen)


def _user_state(declared: dict):
    """The user's own module and optimizer as they were before ``prepare`` (which moves the module to
    the device and may set the optimizer's rate): put back after the ramp."""
    model, opt = declared.get("model"), declared.get("optimizer")
    device = None
    if isinstance(model, torch.nn.Module):
        t = next(iter(model.parameters()), None)
        t = next(iter(model.buffers()), None) if t is None else t
        device = t.device if t is not None else None
    opt_state = _clone(opt.state_dict()) if isinstance(opt, torch.optim.Optimizer) else None
    return model, device, opt, opt_state


# ---------------------------------------------------------------------------- the ramp
def _steps(job):
    """One optimizer step's micro-batches at a time, epoch after epoch (``accumulate=K``: K batches a
    step, as training takes them; an epoch's leftover batches make a shorter step, as in training)."""
    k = max(1, int(getattr(job, "accumulate", 1) or 1))
    while True:
        micro = []
        for batch in job.train_batches.epoch():
            micro.append(batch)
            if len(micro) == k:
                yield micro
                micro = []
        if micro:
            yield micro


def ramp(run, job, *, start_lr=1e-7, end_lr=10.0, steps=100, diverge=4.0, rule="minimum") -> LRFinding:
    """Run the ramp on a prepared ``(run, job)`` and put every state back; returns the finding."""
    finding = LRFinding(start_lr=start_lr, end_lr=end_lr, steps=steps, config=dict(run.config))
    saved = _Saved(job.model, job.optimizer, job.precision, getattr(run, "_generator", None))
    rng = _rng_state()
    factor = (end_lr / start_lr) ** (1 / (steps - 1))
    avg, best, reason = 0.0, math.inf, "reached end_lr"
    try:
        job.model.train()
        stepper = Stepper.from_job(job)  # the engine's own step: precision, clip, accumulate as in training
        for done, micro in enumerate(_steps(job), 1):
            lr = start_lr * factor ** (done - 1)
            for group in job.optimizer.param_groups:
                group["lr"] = lr
            loss = float(stepper.step(micro))  # a host sync per step: the stop rule needs the number
            if not math.isfinite(loss):
                reason = "loss diverged"
                break
            avg = BETA * avg + (1 - BETA) * loss
            smooth = avg / (1 - BETA**done)
            finding.lrs.append(lr)
            finding.losses.append(loss)
            finding.smoothed.append(smooth)
            best = min(best, smooth)
            if smooth > diverge * best:
                reason = "loss diverged"
                break
            if done >= steps:
                break
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        saved.restore()
        _set_rng_state(rng)
    finding.reason = reason
    finding.suggestion, finding.index = suggest(finding.lrs, finding.smoothed, rule)
    finding.rule = rule
    return finding


def find_lr(declared: dict, *, start_lr=1e-7, end_lr=10.0, steps=100, diverge=4.0, rule="minimum") -> LRFinding:
    """Prepare a run from ``train``'s declarations and options (a dict), ramp, and put everything back."""
    check_finder(start_lr, end_lr, steps, diverge, rule)
    if declared.get("lr") is not None:
        raise ConfigError("lr_find searches the learning rate itself; leave out lr (or --lr).")
    rng = _rng_state()  # prepare seeds torch's global RNG: give the user's state back too
    model, device, opt, opt_state = _user_state(declared)
    try:
        run, job = prepare(**declared, name="lr_find")
        return ramp(run, job, start_lr=start_lr, end_lr=end_lr, steps=steps, diverge=diverge, rule=rule)
    finally:
        _set_rng_state(rng)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        if device is not None:
            model.to(device)


def check_auto(optimizer) -> None:
    """``lr="auto"`` with an optimizer preset that sets its own rate is a contradiction: say so."""
    if isinstance(optimizer, str):
        from ..presets import parse_preset

        if "lr" in parse_preset(optimizer).kwargs:
            raise ConfigError(
                f"lr='auto' (--lr auto) asks the finder for the rate, but the optimizer {optimizer!r} sets "
                "its own; drop lr= from the optimizer or give a number instead of auto."
            )


def auto_lr(declared: dict, say=None) -> float:
    """The rate for ``train(lr="auto")``: run the finder on the same declarations first.  ``say``
    (e.g. ``print``) gets one line naming the rate it chose."""
    if declared.get("lr") != "auto":
        raise ConfigError(f"lr must be a positive number or 'auto', got {declared.get('lr')!r}.")
    check_auto(declared.get("optimizer"))
    finding = find_lr(dict(declared, lr=None))
    if finding.interrupted:
        raise KeyboardInterrupt
    if finding.suggestion is None:
        raise ConfigError(f"lr='auto': the finder could not suggest a rate ({finding.reason}); give a number.")
    if say is not None:
        say(f"lr_find: chose lr={finding.suggestion:.3g} (the smoothed loss's minimum / 10, {len(finding.lrs)} steps)")
    return finding.suggestion
