"""The typed, frozen description of a run that ``prepare`` builds before any training.

Three records, each made once and never changed:

- :class:`Options`  the checked scalar options (epochs, batch size, splits, seed, device, ...)
- :class:`Inputs`   the data as the loop will see it: task, label codec, shapes, the fitted
                    preprocessing and the train / val / test batches
- :class:`Parts`    the model, its description and the loss

``check_options`` turns ``train``'s keyword arguments into :class:`Options`, raising a
:class:`~nbtrain.ConfigError` for every bad value before any data is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .device import Precision, make_precision, resolve_device
from .errors import ConfigError, DataTypeError
from .losses import Loss
from .optim import check_lr, optimizer_name


@dataclass(frozen=True)
class Options:
    """Checked options of one run (what the user asked for, validated)."""

    name: str
    epochs: int
    batch_size: int  # as declared; ``Inputs.batch_size`` is what the loop uses (all rows for "gd")
    lr: float | None
    val: float  # 0.0 when val_data is declared
    test: float  # 0.0 when test_data is declared
    seed: int
    device: torch.device
    precision: Precision
    patience: int | None
    monitor: str | None
    metrics: Any  # None, a name or a list of names; parsed once the task is known
    compile: bool
    optimizer_name: str  # "adam", "sgd", ... or a class/factory name
    clip: float | None = None  # max total gradient norm (clip_grad_norm_)
    clip_value: float | None = None  # max absolute gradient element (clip_grad_value_)
    accumulate: int = 1  # micro-batches per optimizer step
    tf32: bool = False  # TF32 matmuls/convolutions + cudnn.benchmark for the run (CUDA)
    task: str | None = None  # declared task ("classification" | "regression"), else inferred
    classes: Any = None  # declared classes: a count K (labels 0..K-1) or the class names, else None
    workers: int = 0  # DataLoader worker processes (a torch Dataset)
    steps_per_epoch: int | None = None  # batches per epoch of an IterableDataset
    data_device: str = "auto"  # where in-memory arrays live: "auto" | "cpu" (host, per batch) | "device"

    @property
    def full_batch(self) -> bool:
        """``"gd"``: one step per epoch over the whole training split."""
        return self.optimizer_name == "gd"


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


def positive_int(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be a fraction in [0, 1), got {value!r}; e.g. {name}=0.2.")
    return float(value)


def positive_number(value, name: str, example: str):
    if value is None:
        return None
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not 0 < float(value) < float("inf"):
        raise ConfigError(f"{name} must be a positive number, got {value!r:.60}; e.g. {name}={example}.")
    return float(value)


def check_options(
    *,
    name,
    epochs,
    batch_size,
    lr,
    val,
    test,
    has_val_data,
    has_test_data,
    seed,
    device,
    amp,
    patience,
    monitor,
    metrics,
    compile,
    optimizer,
    clip=None,
    clip_value=None,
    accumulate=1,
    tf32=False,
    task=None,
    classes=None,
    workers=0,
    steps_per_epoch=None,
    data_device="auto",
) -> Options:
    """Validate ``train``'s options; raises ConfigError / DataTypeError naming the bad one."""
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    patience = positive_int(patience, "patience", allow_none=True)
    check_lr(lr)
    clip = positive_number(clip, "clip", "1.0")
    clip_value = positive_number(clip_value, "clip_value", "0.5")
    if clip is not None and clip_value is not None:
        raise ConfigError("clip= (max gradient norm) and clip_value= (max gradient element) are both set; use one.")
    accumulate = positive_int(accumulate, "accumulate")
    if not isinstance(tf32, bool):
        raise ConfigError(f"tf32 must be True or False, got {tf32!r:.60}.")
    val = 0.0 if has_val_data else fraction(val, "val")
    test = 0.0 if has_test_data else fraction(test, "test")
    if val + test >= 1:
        raise ConfigError(f"val={val} and test={test} leave no training data; make val + test less than 1.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not -(2**63) <= seed < 2**63:
        raise ConfigError(f"seed must be an integer (a 64-bit one), got {seed!r}.")
    if monitor is not None and not isinstance(monitor, str):
        raise ConfigError(f'monitor must be a history column name such as "val_loss", got {monitor!r:.80}.')
    if (
        metrics is not None
        and not isinstance(metrics, str)
        and not (isinstance(metrics, (list, tuple)) and all(isinstance(m, str) for m in metrics))
    ):
        raise DataTypeError(f'metrics must be a name like "accuracy" or a list of names, got {metrics!r:.80}.')
    dev = resolve_device(device)
    data = check_data_options(task, classes, workers, steps_per_epoch, data_device)
    return Options(
        name=name,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        val=val,
        test=test,
        seed=int(seed),
        device=dev,
        precision=make_precision(amp, dev),
        patience=patience,
        monitor=monitor,
        metrics=metrics,
        compile=bool(compile),
        optimizer_name=optimizer_name(optimizer),
        clip=clip,
        clip_value=clip_value,
        accumulate=accumulate,
        tf32=tf32,
        **data,
    )


TASKS = ("classification", "regression", "multilabel")
DATA_DEVICES = ("auto", "cpu", "device")


def check_data_options(task, classes, workers, steps_per_epoch, data_device) -> dict:
    """The data options of ``train`` (task, classes, workers, steps_per_epoch, data_device), checked."""
    if task is not None and task not in TASKS:
        raise ConfigError(f"task must be 'classification', 'regression' or 'multilabel', got {task!r:.60}.")
    if classes is not None:
        if isinstance(classes, str):
            classes = [c.strip() for c in classes.split(",") if c.strip()]
            if len(classes) == 1 and classes[0].isdigit():
                classes = int(classes[0])
        if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
            if classes < 2:
                raise ConfigError(f"classes must be at least 2 (a count) or a list of names, got {classes!r}.")
            classes = int(classes)
        elif isinstance(classes, (list, tuple, np.ndarray)):
            classes = list(classes)
            if len(classes) < 2 or len(set(map(repr, classes))) != len(classes):
                raise ConfigError(f"classes must name at least two different classes, got {classes!r:.80}.")
        else:
            raise ConfigError(f"classes must be a count K or a list of class names, got {classes!r:.60}.")
        if task == "regression":
            raise ConfigError("classes= is for classification, but task='regression' was declared; drop one.")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ConfigError(f"workers must be a whole number >= 0 (DataLoader processes), got {workers!r:.60}.")
    steps_per_epoch = positive_int(steps_per_epoch, "steps_per_epoch", allow_none=True)
    if data_device not in DATA_DEVICES:
        raise ConfigError(f"data_device must be 'auto', 'cpu' or 'device', got {data_device!r:.60}.")
    return dict(
        task=task, classes=classes, workers=int(workers), steps_per_epoch=steps_per_epoch, data_device=data_device
    )
