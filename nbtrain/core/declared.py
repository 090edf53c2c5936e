"""What the declarations say about the data before any of it is read: the preprocessing declared
(:class:`PreprocessSpec`, parsed from preset strings, never evaluated), the task a declaration fixes
(:func:`declared_task`) and the dtype rule (:func:`keeps_ints`).  No stage of the data path: every
stage may read these.

>>> parse("dropna | impute:median | standardize").row_filters     # ['dropna']   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import DataTypeError, PresetError, unknown_name
from .losses import loss_task
from .models import parse_model
from .presets import Preset, parse_preset, split_pipeline

#: the two tasks: integer, boolean or string labels mean classification; float targets regression
CLASSIFICATION, REGRESSION = "classification", "regression"

ROW_FILTERS = ("dropna", "drop_duplicates")
TRANSFORMS = ("impute", "standardize", "normalize", "onehot", "drop")
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

    @property
    def dropped(self) -> list:
        """The columns ``drop:COLUMN[,COLUMN]`` steps name, in order."""
        return [c for p in self.steps if p.name == "drop" for c in drop_columns(p)]


def drop_columns(p: Preset) -> list:
    """``drop:a,b`` / ``drop(a, b)`` -> ["a", "b"]."""
    return [c.strip() for a in p.args for c in str(a).split(",") if c.strip()]


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
    elif p.name == "drop":
        if p.kwargs or not drop_columns(p):
            raise PresetError('drop names the DataFrame columns to leave out, e.g. "drop:customer_id,name".')
    elif p.args or p.kwargs:
        raise PresetError(f"preprocessing step {p.name!r} takes no arguments.")


def declared_task(loss, model, task=None, classes=None) -> str | None:
    """The task a declaration fixes, without looking at the targets: ``task=``, the loss, a preset
    model, ``classes=``; None where only the targets can tell."""
    if task is not None:
        return CLASSIFICATION if task == "multilabel" else task
    task = loss_task(loss)
    if task is None and isinstance(model, str):
        name = parse_model(model).name
        task = {"logistic": CLASSIFICATION, "svm": CLASSIFICATION, "linear": REGRESSION}.get(name)
    return task or (CLASSIFICATION if classes is not None else None)


def keeps_ints(model, spec) -> bool:
    """The dtype rule: a model of the user's own, without preprocessing, gets integer and boolean
    inputs as they are (token ids, categorical indices); a preset model or a preprocessing step reads
    every feature as a float (integer tabular features are features, not ids)."""
    return isinstance(model, torch.nn.Module) and (spec is None or spec.empty)
