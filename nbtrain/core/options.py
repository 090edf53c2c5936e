"""Every option of ``nbtrain.train``, once: its default, its checker, its help and its ``%%train`` flag.

One :class:`Option` per keyword of ``train``.  The rest is derived from this table:

- ``core/spec.py``: the fields of ``Options`` and ``check_options`` (each value through its checker);
- ``core/prepare.py: prepare`` takes the options whose ``stage`` is ``"prepare"`` as keywords, and so do
  ``nbtrain.lr_find``, ``nbtrain.sweep`` and ``nbtrain.distributed.export``, which pass them on;
- ``magics``: the ``%%train`` / ``%%lr_find`` / ``%%sweep`` flags (IPython ``magic_arguments``), the names a
  ``%%train`` cell may assign (``cell``), and the defaults the ``NbtrainMagics`` settings give (``setting``).

``nbtrain.train`` keeps its explicit signature (for users and their editors); ``tests/magics/
test_option_registry.py`` fails when it, the magics and this table disagree.  Adding an option: see
docs/architecture.md, "An option of train".

>>> OPTION["batch_size"].flag, OPTION["batch_size"].default
('--batch-size', 32)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import checks
from .device import resolve_device
from .errors import ConfigError


@dataclass(frozen=True)
class Option:
    """One keyword of ``train``.

    ``kind``: ``"object"`` (data, a model, a loss, ...: passed on as given, checked where it is used) or
    ``"option"`` (a setting: checked by ``check`` into the run's ``Options``).  ``stage``: ``"prepare"``
    (``core.prepare`` takes it) or ``"train"`` (only ``api.train`` uses it: views, files, processes).
    ``check(value, name, given)`` returns the checked value.  ``flag``: its ``%%train`` flag (None: none);
    ``parse`` turns the flag's text into a value, ``sets`` is the value of a flag that takes none
    (``--compile`` sets True, ``--no-plot`` sets False).  ``cell``: a ``%%train`` cell may assign it.
    ``setting``: ``NbtrainMagics.<name>`` gives the default of ``%%train``.
    """

    name: str
    default: Any
    help: str
    kind: str = "option"
    stage: str = "prepare"
    check: Callable | None = checks.anything
    type: Any = Any
    flag: str | None = None
    parse: Callable | None = None
    sets: Any = None
    choices: tuple | None = None
    metavar: str | None = None
    cell: bool = True
    setting: bool = False


def _lr_text(text: str):
    """``--lr``: a number, ``auto`` (the learning-rate finder picks it), or a dict literal of rates by
    parameter-name pattern, ``{"classifier.*":1e-3,"*":2e-5}`` (parsed with ``ast.literal_eval``, never run)."""
    text = text.strip()
    if text.startswith("{"):
        import argparse
        import ast

        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
        if not isinstance(value, dict):
            raise argparse.ArgumentTypeError(
                f"--lr {text}: rates by pattern are a dict of quoted patterns and numbers, "
                """e.g. --lr {"classifier.*":1e-3,"*":2e-5}"""
            )
        return value
    return "auto" if text.lower() == "auto" else float(text)


_lr_text.__name__ = "lr"  # argparse's message: "invalid lr value: 'x'"


def _names(text: str) -> list:
    """``--freeze 'bert.*,classifier.*'``: a comma-separated list of names or patterns."""
    return [t.strip() for t in text.split(",") if t.strip()]


_names.__name__ = "list of names"  # argparse's message: "invalid list of names value: ..."


def _device(value, name, given):
    return resolve_device(value)


def _obj(name: str, help: str, stage: str = "prepare", default=None, **kw) -> Option:
    return Option(name, default, help, kind="object", stage=stage, check=None, **kw)


# fmt: off
#: in the order of ``train``'s signature
OPTIONS: tuple = (
    _obj("data", "train on this existing variable instead of a `data` the cell assigns (default: none)",
         flag="--data", metavar="NAME", parse=str),
    _obj("model", 'a preset like "mlp(64, 64)" or a torch.nn.Module (default: the task\'s)'),
    _obj("loss", 'a preset like "cross_entropy" or a callable(outputs, targets) (default: the task\'s)'),
    _obj("optimizer", 'a preset like "sgd(momentum=0.9)", a torch.optim class or factory (default: adam)'),
    _obj("preprocess", 'presets like "impute:median | standardize" or a scikit-learn transformer'),
    Option("epochs", 10, "epochs to train (default: NbtrainMagics.epochs, 10)", check=checks.count, type=int,
           flag="--epochs", parse=int, setting=True),
    Option("batch_size", 32, "mini-batch size (default: NbtrainMagics.batch_size, 32)", check=checks.count,
           type=int, flag="--batch-size", parse=int, setting=True),
    Option("lr", None, "learning rate, or auto: run %%lr_find first and train with its suggestion, or rates "
           'by parameter-name pattern: {"classifier.*":1e-3,"*":2e-5} (default: the optimizer\'s own default)',
           check=checks.learning_rate, flag="--lr", parse=_lr_text),
    Option("val", 0.2, "validation fraction, stratified for classification; ignored when the cell declares "
           "val_data (default: 0.2)", check=checks.split_fraction, type=float, flag="--val", parse=float),
    Option("test", 0.2, "test fraction; ignored when the cell declares test_data (default: 0.2)",
           check=checks.split_fraction, type=float, flag="--test", parse=float),
    _obj("val_data", "validation data, in the form of data (replaces the val split)"),
    _obj("test_data", "test data, in the form of data (replaces the test split)"),
    Option("seed", 0, "random seed; results repeat (default: NbtrainMagics.seed, 0)", check=checks.seed,
           type=int, flag="--seed", parse=int, setting=True),
    Option("device", "auto", "auto, cpu, cuda, cuda:N or mps (default: NbtrainMagics.device, auto)",
           check=_device, flag="--device", setting=True),
    Option("metrics", None, "comma-separated metrics, e.g. accuracy,f1,auc or mse,mae,r2 "
           "(default: accuracy,f1 for classification, mse,r2 for regression)", check=checks.metric_names,
           flag="--metrics"),
    Option("patience", None, "early stopping after this many epochs without improvement (default: off)",
           check=checks.optional_count, flag="--patience", parse=int),
    Option("amp", None, "mixed precision (default: off)", flag="--amp", choices=("bf16", "fp16")),
    _obj("callbacks", "nbtrain.Callback instances that hear the run's events", stage="train", default=()),
    Option("restore_best", False, "end with the best epoch's weights (by the monitored value), without stopping "
           "early (default: off)", check=checks.switch, type=bool, flag="--restore-best", sets=True),
    Option("display", "auto", "show nothing while training (default: off)", stage="train", flag="--quiet",
           sets="none", cell=False, setting=True),
    Option("name", None, "name of the run in nbtrain.runs (default: run1, run2, ...)", stage="train",
           flag="--name", cell=False),
    _obj("scheduler", 'a preset like "cosine" or a torch scheduler class or factory (default: none)'),
    Option("target", None, "target column when data is a DataFrame (default: none)", check=checks.column,
           flag="--target", metavar="COLUMN"),
    Option("compile", False, "use torch.compile (default: off)", check=checks.truthy, type=bool,
           flag="--compile", sets=True),
    Option("checkpoint", None, "save a checkpoint after every epoch (default: none)", stage="train",
           check=checks.path, flag="--checkpoint", metavar="PATH"),
    Option("resume", False, "continue from --checkpoint PATH (default: off)", stage="train", check=checks.switch,
           flag="--resume", sets=True),
    Option("monitor", None, "the history column early stopping and the kept weights follow (default: val_loss)",
           check=checks.column_name),
    Option("processes", None, "data-parallel training on N processes (default: one process, in the kernel)",
           stage="train", check=checks.optional_int, flag="--processes", parse=int),
    Option("plot", True, "no loss plot: the progress panel and the metric table only (default: off)",
           stage="train", flag="--no-plot", sets=False, cell=False),
    Option("clip", None, "clip the gradients' total norm to this (default: off)", check=checks.positive("1.0"),
           flag="--clip", parse=float),
    Option("clip_value", None, "clip each gradient element to [-v, v] (default: off)",
           check=checks.positive("0.5"), flag="--clip-value", parse=float),
    Option("accumulate", 1, "one optimizer step per K batches, like one K-times-larger batch (default: 1)",
           check=checks.count, type=int, flag="--accumulate", parse=int, metavar="K"),
    Option("tf32", False, "TF32 matmuls and cudnn.benchmark on CUDA (default: off)", check=checks.switch,
           type=bool, flag="--tf32", sets=True),
    Option("task", None, "the task, when the targets do not tell (default: from the loss, the model or the "
           "targets)", check=checks.one_of(None, "classification", "regression", "multilabel"), flag="--task",
           choices=("classification", "regression", "multilabel")),
    Option("classes", None, "the number of classes or their names, comma-separated; a Dataset then needs no "
           "pass over its labels (default: dataset.classes / targets, or the labels seen)", check=checks.classes,
           flag="--classes", metavar="K|A,B,..."),
    Option("workers", 0, "DataLoader worker processes for a Dataset (default: 0)", check=checks.workers,
           type=int, flag="--workers", parse=int, metavar="N"),
    Option("steps_per_epoch", None, "batches per epoch, required for an IterableDataset (default: none)",
           check=checks.optional_count, flag="--steps-per-epoch", parse=int, metavar="N"),
    Option("data_device", "auto", "where in-memory arrays live: on the device, or on the host with a copy per "
           "batch (default: auto, the host when they do not fit in free device memory)",
           check=checks.one_of("auto", "cpu", "device"), type=str, flag="--data-device",
           choices=("auto", "cpu", "device")),
    _obj("collate", "a function that batches a Dataset's items, e.g. padding sequences (default: torch's "
         "default collate)"),
    _obj("keep_columns", "Hugging Face Dataset columns to keep although the model's forward does not take them, "
         "comma-separated (default: none)", flag="--keep-columns", metavar="A,B", parse=_names),
    _obj("freeze", "freeze parameters by name pattern, comma-separated, or body: all but the output head "
         "(default: none)", flag="--freeze", metavar="P,Q|body", parse=_names),
    Option("unfreeze_at", None, "unfreeze the frozen parameters at epoch E (default: never)", stage="prepare",
           check=None, kind="object", flag="--unfreeze-at", metavar="E", parse=int),
    # not a cell name: `from math import log` in a cell must not become a logger
    Option("log", None, "also write the run to tensorboard, mlflow or csv (comma-separated for several), or none "
           "(default: NbtrainMagics.log, none)", stage="train", flag="--log", metavar="WHERE", cell=False,
           setting=True),
    Option("scale_target", True, "standardise a regression target far from unit scale for training, with predictions "
           "and metrics in its own units; --no-scale-target trains on it as it is (default: on)",
           check=checks.switch, type=bool, flag="--no-scale-target", sets=False),
)
# fmt: on

OPTION: dict = {o.name: o for o in OPTIONS}
#: what ``core.prepare`` takes (besides ``name``), objects included
PREPARE: tuple = tuple(o.name for o in OPTIONS if o.stage == "prepare")
#: the checked settings: the fields of ``spec.Options``
CHECKED: tuple = tuple(o for o in OPTIONS if o.stage == "prepare" and o.kind == "option")
#: the names a ``%%train`` (``%%lr_find``, ``%%sweep``) cell may assign
CELL: tuple = tuple(o.name for o in OPTIONS if o.cell)
#: the options with a ``%%train`` flag
FLAGGED: tuple = tuple(o for o in OPTIONS if o.flag)


def defaults(names=PREPARE) -> dict:
    return {n: OPTION[n].default for n in names}


def unknown(name: str, where: str, known=PREPARE) -> ConfigError:
    """The error for a keyword that is not an option (with a "did you mean")."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    return ConfigError(f"{where} got an unknown option {name!r}; {hint}see help(nbtrain.train) for the options.")


def collect(given: dict, where: str = "train", known=PREPARE) -> dict:
    """Every option of ``known`` with its value from ``given`` or its default; an unknown name is an error."""
    for key in given:
        if key not in known:
            raise unknown(key, where, known)
    return {**defaults(known), **given}
