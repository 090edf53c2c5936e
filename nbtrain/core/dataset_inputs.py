"""A torch ``Dataset`` -> :class:`~nbtrain.core.spec.Inputs`, without a pass over the samples.

The task and classes come from declarations or the Dataset's ``targets`` / ``classes`` (see
:mod:`~nbtrain.core.datasets`); the sample shape from the first few samples (the probe batch, kept
for the one-batch check); splits are ``Subset`` indices; batches come through a ``DataLoader``.
"""

from __future__ import annotations

import numpy as np
import torch

from . import batch, targets
from .data import CLASSIFICATION, REGRESSION, LabelCodec, _part_size, infer_task, is_dataset
from .datasets import (
    PROBE_ROWS,
    LoaderBatches,
    check_workers,
    is_iterable,
    known_classes,
    known_targets,
    probe_items,
    read_labels,
)
from .errors import ConfigError, DataError, DataTypeError
from .inputs import EVAL_CHUNK, decide_task, declared_task, keeps_ints
from .spec import Inputs, Options


def split_dataset(dataset, fraction: float, seed: int, what: str):
    """Seeded ``(rest, part)`` Subsets: indices, never copies of the samples."""
    n = len(dataset)
    n_part = _part_size(n, fraction, what)
    g = torch.Generator().manual_seed(seed)
    rest, part = torch.utils.data.random_split(dataset, [n - n_part, n_part], generator=g)
    return rest, part


def _classes(opts: Options, source, y_all, yb):
    """``(n_classes, codec)`` for classification, checked against the labels known."""
    declared = opts.classes
    names = declared if isinstance(declared, list) else None
    if declared is None:
        names = known_classes(source)
    labels = y_all if y_all is not None else yb.cpu().numpy()
    if labels.dtype.kind not in "iub":
        raise DataError("a Dataset for classification must yield integer class indices 0..K-1 as targets.")
    if labels.size and labels.min() < 0:
        raise DataError("Dataset class indices must be >= 0.")
    if isinstance(declared, int):
        n_classes = declared
    elif names is not None:
        n_classes = len(names)
    elif y_all is not None:
        n_classes = int(y_all.max()) + 1
    else:
        raise ConfigError(
            "the classes of this IterableDataset are unknown: declare classes=K (--classes K) or the class names."
        )
    if labels.size and int(labels.max()) >= n_classes:
        raise DataError(
            f"the Dataset has label {int(labels.max())} but {n_classes} classes were declared "
            f"(labels must be 0..{n_classes - 1}); fix classes= or the targets."
        )
    codec = LabelCodec(np.asarray(names) if names is not None else np.arange(n_classes))
    return n_classes, codec


def dataset_inputs(source, opts: Options, *, loss, model, val_data, test_data, target=None, collate=None) -> Inputs:
    """A torch Dataset: task and classes without a pre-pass, splits by index, a DataLoader.
    ``target``: the key of dict items' target; ``collate``: the function that batches items."""
    iterable = is_iterable(source)
    bs, seed, dev = opts.batch_size, opts.seed, opts.device
    if iterable:
        if opts.steps_per_epoch is None:
            raise ConfigError(
                "an IterableDataset has no length: give steps_per_epoch=N (--steps-per-epoch N), the batches an epoch."
            )
        if opts.val > 0 or opts.test > 0:
            raise ConfigError(
                "an IterableDataset cannot be split by fraction: pass val=0, test=0 (--val 0 --test 0), "
                "or give val_data / test_data."
            )
    xb, yb = probe_items(source, PROBE_ROWS, target=target, collate=collate)
    y_all = known_targets(source)
    task = declared_task(loss, model, opts.task, opts.classes)
    if task is None and known_classes(source) is not None:
        task = CLASSIFICATION  # torchvision: `classes` names the classes of integer targets
    need_labels = task is None or (task == CLASSIFICATION and opts.classes is None and known_classes(source) is None)
    need_labels = need_labels and yb.dim() <= 1  # several targets a row: the probe's dtype and shape tell
    if y_all is None and need_labels and not iterable:
        y_all = read_labels(source, target=target, collate=collate)  # the fallback: one pass, said once
    if task is None:
        task = decide_task(loss, model, y_all) if y_all is not None else infer_task(yb.cpu().numpy())
    kind = targets.kind_of(task, yb.dim(), loss, opts.task)
    if kind in (targets.MULTIHOT, targets.POSITIONS):
        labels = y_all if y_all is not None else yb.cpu().numpy()
        targets.check(kind, labels, "data y")
        n = yb.shape[1] if kind == targets.MULTIHOT else targets.n_positions_classes(labels, opts.classes)
        n_classes, codec = n, LabelCodec(np.asarray(opts.classes) if isinstance(opts.classes, list) else np.arange(n))
    elif task == CLASSIFICATION:
        targets.check(kind, y_all if y_all is not None else yb.cpu().numpy(), "data y")
        n_classes, codec = _classes(opts, source, y_all, yb)
    else:
        n_classes, codec = 0, None
    if task == REGRESSION and not (yb.is_floating_point() or yb.dtype in (torch.int32, torch.int64, torch.uint8)):
        raise DataError(f"regression needs numeric targets but the Dataset yields {yb.dtype}.")
    test, val = opts.test, opts.val
    train_ds, test_ds = split_dataset(source, test, seed, "test") if test > 0 else (source, test_data)
    if val > 0:
        train_ds, val_ds = split_dataset(train_ds, val / (1 - test), seed + 1, "val")
    else:
        val_ds = val_data
    on_device = batch.first(xb).device.type != "cpu"
    check_workers(source, opts.workers, on_device)
    target_ndim = 1 if yb.dim() <= 1 else yb.dim() if kind == targets.POSITIONS else 2
    n_out = (int(np.prod(yb.shape[1:])) if yb.dim() > 1 else 1) if task == REGRESSION else n_classes
    generator = torch.Generator().manual_seed(seed)
    target_dtype = torch.long if task == CLASSIFICATION and kind != targets.MULTIHOT else torch.float32
    kw = dict(
        workers=opts.workers, on_device=on_device, target=target, collate=collate, keep_ints=keeps_ints(model, None)
    )
    batches = {
        "train": LoaderBatches(
            train_ds, bs, generator, dev, target_dtype, steps=opts.steps_per_epoch, probe=(xb, yb), **kw
        )
    }
    for key, ds in (("val", val_ds), ("test", test_ds)):
        if ds is not None:
            if not is_dataset(ds):
                raise DataTypeError(f"{key}_data must be a Dataset too when data is a Dataset.")
            batches[key] = LoaderBatches(ds, max(bs, EVAL_CHUNK), generator, dev, target_dtype, **kw)
    return Inputs(
        task=task,
        codec=codec,
        n_classes=n_classes,
        n_out=n_out,
        sample_shape=batch.shapes(xb),
        target_ndim=target_ndim,
        n_train=opts.steps_per_epoch * bs if iterable else len(train_ds),
        batch_size=bs,
        batches=batches,
        transformer=None,
        generator=generator,
        target=kind,
    )
