"""The typed, frozen description of a run that ``prepare`` builds before any training.

Three records, each made once and never changed:

- :class:`Options`  the checked scalar options (epochs, batch size, splits, seed, device, ...)
- :class:`Inputs`   the data as the loop will see it: task, label codec, shapes, the fitted
                    preprocessing and the train / val / test batches
- :class:`Parts`    the model, its description and the loss

``check_options`` turns ``train``'s options (``core/options.py``) into :class:`Options`, raising a
:class:`~nbtrain.ConfigError` for every bad value before any data is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any

import torch

from .device import Precision, make_precision
from .losses import Loss
from .optim import optimizer_name
from .options import CHECKED


def _full_batch(self) -> bool:
    """``"gd"``: one step per epoch over the whole training split."""
    return self.optimizer_name == "gd"


#: Checked options of one run (what the user asked for, validated): one field per checked option of
#: ``core/options.py`` (``opts.epochs``, ``opts.val`` -- 0.0 when val_data is declared --, ``opts.device``
#: -- a torch.device --, ...), plus ``name``, ``precision`` (from amp and the device) and ``optimizer_name``
#: ("adam", "sgd", ... or a class/factory name).
Options = make_dataclass(
    "Options",
    [("name", str), ("precision", Precision), ("optimizer_name", str)]
    + [(o.name, o.type, field(default=o.default)) for o in CHECKED],
    frozen=True,
    namespace={
        "full_batch": property(_full_batch),
        "__module__": __name__,
        "__doc__": "Checked options of one run: a field per checked option of core/options.py, and name, "
        "precision, optimizer_name.",
    },
)


@dataclass(frozen=True)
class Inputs:
    """The data, split, preprocessed and batched; what every later step reads."""

    task: str  # "classification" | "regression"
    codec: Any  # LabelCodec for classification, else None
    n_classes: int  # 0 for regression
    n_out: int  # outputs the targets call for (before a single-output loss narrows it to 1)
    sample_shape: tuple
    target_ndim: int  # 1, or 2 for several regression targets per row
    n_train: int
    batch_size: int  # the loop's batch size
    batches: dict  # "train" (and "val", "test" where they exist) -> TensorBatches | LoaderBatches
    transformer: Any  # the preprocessing fitted on the train split, or None
    generator: torch.Generator  # the batches' shuffling generator (saved in checkpoints)
    data_device: str = "device"  # where in-memory data lives: "device", or "cpu" (copied per batch)
    target: str = "label"  # what a target is: "label", "multihot", "positions", "values" (core/targets.py)


@dataclass(frozen=True)
class Parts:
    """The model and the loss, built for the inputs."""

    net: torch.nn.Module
    description: str  # "mlp(32, 32)" or the class name of the user's module
    loss: Loss
    n_out: int  # the model's outputs per sample


def check_options(options: dict, *, name: str, optimizer=None, val_data=None, test_data=None) -> Options:
    """Validate ``train``'s options (a dict: name -> value, every checked option of ``core/options.py``)
    into :class:`Options`; raises ConfigError / DataTypeError naming the bad one.  ``val_data`` /
    ``test_data``: declared data sets (their split fraction is then 0)."""
    given = {**options, "val_data": val_data, "test_data": test_data}
    checked = {o.name: o.check(options.get(o.name, o.default), o.name, given) for o in CHECKED}
    return Options(
        name=name,
        precision=make_precision(checked["amp"], checked["device"]),
        optimizer_name=optimizer_name(optimizer),
        **checked,
    )
