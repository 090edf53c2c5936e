"""Fine-tuning any ``nn.Module``: frozen parameters, gradual unfreezing, learning rates by name.

- ``freeze=``: parameter-name patterns (``fnmatch``: ``"bert.embeddings.*"``), a list of them, or
  ``"body"`` for every parameter outside the output head (the last top-level child module that has
  parameters: ``classifier``, ``score``, ``lm_head``, the last layer of a Sequential).  Frozen
  parameters get ``requires_grad=False``: no gradient, so no optimizer state (torch's optimizers skip a
  parameter without a gradient) until ``unfreeze_at=E`` turns them back on at the start of epoch E.
- ``lr={"classifier.*": 1e-3, "*": 2e-5}``: one optimizer parameter group per pattern, in order; the
  first pattern a parameter's name matches takes it, every parameter is in exactly one group, and a
  parameter no pattern matches is an error (end with ``"*"`` for the rest).

>>> plan = plan_finetune(model, freeze="body", unfreeze_at=3, lr={"classifier.*": 1e-3, "*": 1e-4})  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import torch

from .errors import ConfigError
from .events import Callback

BODY = "body"


def head_prefix(model: torch.nn.Module) -> str:
    """The name of the output head: the last top-level child module that has parameters."""
    named = [(n, m) for n, m in model.named_children() if any(True for _ in m.parameters())]
    if len(named) < 2:
        raise ConfigError(
            f'freeze="body" needs a model whose output head is its last child module; {type(model).__name__} '
            "has no separate head: name the parameters to freeze, e.g. freeze=['encoder.*']."
        )
    return named[-1][0]


def _patterns(spec, what: str) -> list:
    patterns = [spec] if isinstance(spec, str) else spec
    if not isinstance(patterns, (list, tuple)) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(f"{what} takes parameter-name patterns such as 'bert.embeddings.*' or 'body'; got {spec!r}.")
    return list(patterns)


def _sample(model, k: int = 4) -> str:
    names = [n for n, _ in model.named_parameters()]
    more = f", ... ({len(names)} in all)" if len(names) > k else ""
    return ", ".join(names[:k]) + more


def frozen_names(model: torch.nn.Module, freeze) -> list:
    """The names of the parameters ``freeze`` names (checked: every pattern matches one at least)."""
    names = [n for n, _ in model.named_parameters()]
    out: set = set()
    for pattern in _patterns(freeze, "freeze"):
        if pattern == BODY:
            head = head_prefix(model)
            hit = [n for n in names if not n.startswith(head + ".")]
        else:
            hit = [n for n in names if fnmatchcase(n, pattern)]
        if not hit:
            raise ConfigError(f"freeze pattern {pattern!r} matches no parameter; the model has {_sample(model)}.")
        out.update(hit)
    if len(out) == len(names):
        raise ConfigError("freeze names every parameter of the model; leave the output head (or some layer) trainable.")
    return [n for n in names if n in out]


def check_rates(lrs) -> dict:
    """``lr`` as a dict: string patterns to positive rates (checked before any model is seen)."""
    if not isinstance(lrs, dict) or not lrs:
        raise ConfigError(
            "lr as a dict maps parameter-name patterns to rates, e.g. "
            f"{{'classifier.*': 1e-3, '*': 2e-5}}; got {lrs!r}."
        )
    for pattern, rate in lrs.items():
        if not isinstance(pattern, str):
            raise ConfigError(f"lr patterns are strings such as 'classifier.*'; got {pattern!r}.")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0 or rate == float("inf"):
            raise ConfigError(f"lr[{pattern!r}] must be a positive number, got {rate!r}.")
    return {p: float(r) for p, r in lrs.items()}


def param_groups(model: torch.nn.Module, lrs: dict, frozen=()) -> list:
    """``[{"params": [...], "lr": rate, "pattern": p}]``: each parameter in the group of the first
    pattern its name matches; frozen parameters too (they get no gradient, so no state, until unfrozen)."""
    lrs = check_rates(lrs)
    groups = {p: [] for p in lrs}
    for name, param in model.named_parameters():
        pattern = next((p for p in lrs if fnmatchcase(name, p)), None)
        if pattern is None:
            raise ConfigError(
                f"parameter {name!r} matches none of the lr patterns {list(lrs)}; add one for it, "
                "or '*' last for the rest."
            )
        groups[pattern].append(param)
    empty = [p for p, ps in groups.items() if not ps]
    if empty:
        raise ConfigError(
            f"lr pattern {empty[0]!r} matches no parameter (an earlier pattern took them, or none has such a name)."
        )
    return [{"params": ps, "lr": float(lrs[p]), "pattern": p} for p, ps in groups.items()]


class Unfreeze(Callback):
    """Turns the frozen parameters back on at the start of epoch ``at``."""

    def __init__(self, params: list, at: int):
        self.params, self.at = params, at

    def on_epoch_start(self, run, epoch: int, **kwargs) -> None:
        if epoch >= self.at:
            for p in self.params:
                p.requires_grad_(True)


@dataclass
class Finetune:
    """What :func:`plan_finetune` decided: the frozen names, the parameter groups (or None), the hooks."""

    frozen: list = field(default_factory=list)
    groups: list | None = None
    hooks: list = field(default_factory=list)

    lrs: dict | None = None
    unfreeze_at: int | None = None

    def describe(self, model) -> dict:
        """The run's config entries: trainable / total parameters as training starts, what is frozen
        (patterns as given), when it unfreezes, the rates by pattern."""
        total = sum(p.numel() for p in model.parameters())
        out = {
            "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "total_params": total,
            "frozen": len(self.frozen),
            "unfreeze_at": self.unfreeze_at,
        }
        if self.lrs is not None:
            out["lr_groups"] = dict(self.lrs)
            out["lr"] = float(next(iter(self.lrs.values())))
        return out


def plan_finetune(model: torch.nn.Module, *, freeze=None, unfreeze_at=None, lr=None, epochs=None) -> Finetune:
    """Freeze what ``freeze`` names (now), group parameters by ``lr`` patterns, and the hook that
    unfreezes at ``unfreeze_at``.  Every mistake is a ConfigError, raised before anything changes."""
    if unfreeze_at is not None:
        if freeze is None:
            raise ConfigError("unfreeze_at= unfreezes what freeze= froze; give freeze= too (e.g. freeze='body').")
        if isinstance(unfreeze_at, bool) or not isinstance(unfreeze_at, int) or unfreeze_at < 2:
            raise ConfigError(
                f"unfreeze_at is the epoch (2 or later) at which frozen layers train again; got {unfreeze_at!r}."
            )
        if epochs is not None and unfreeze_at > epochs:
            raise ConfigError(f"unfreeze_at={unfreeze_at} is after the last epoch ({epochs}); nothing would unfreeze.")
    names = frozen_names(model, freeze) if freeze is not None else []
    groups = param_groups(model, lr) if isinstance(lr, dict) else None
    params = dict(model.named_parameters())
    for n in names:
        params[n].requires_grad_(False)
    hooks = [Unfreeze([params[n] for n in names], unfreeze_at)] if unfreeze_at is not None else []
    if groups is None and unfreeze_at is not None:
        groups = [{"params": list(model.parameters())}]  # the frozen ones too: state arrives with their gradients
    return Finetune(
        frozen=names, groups=groups, hooks=hooks, lrs=lr if isinstance(lr, dict) else None, unfreeze_at=unfreeze_at
    )
