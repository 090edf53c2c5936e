"""A torch ``Dataset`` -> :class:`~nbtrain.core.spec.Inputs`, without a pass over the samples.

An :class:`~nbtrain.core.sources.Items` source goes down the path once, in this order:

1. read what the source tells (its first items, the probe batch kept for the one-batch check; its
   ``targets`` / ``classes``; every label, once and with a warning, only where nothing else tells);
2. labels (:mod:`.labels`): the task, the kind of target, the classes;
3. split (:mod:`.splits`): ``Subset`` indices, seeded;
4. batches (:mod:`.datasets`): a ``DataLoader`` each (no preprocessing presets: a Dataset transforms
   its own items).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from . import batch, targets
from .datasets import LoaderBatches, check_workers
from .declared import CLASSIFICATION, REGRESSION, declared_task, keeps_ints
from .errors import ConfigError, DataError
from .forms import is_iterable
from .inputs import EVAL_CHUNK
from .labels import LabelCodec, decide_task, infer_task, item_classes
from .sources.torch_items import PROBE_ROWS, probe_items
from .spec import Inputs, Options
from .splits import split_dataset


def dataset_inputs(declared, opts: Options, *, loss, model) -> Inputs:
    """``declared``: :class:`~nbtrain.core.sources.Declared` of Items.  Task and classes without a
    pre-pass, splits by index, a DataLoader."""
    source = declared.data
    iterable = is_iterable(source.dataset)
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
    # 1. what the source tells
    xb, yb = source.probe()
    y_all = source.known_targets()
    task = declared_task(loss, model, opts.task, opts.classes)
    if task is None and source.classes is not None:
        task = CLASSIFICATION  # torchvision: `classes` names the classes of integer targets
    need_labels = task is None or (task == CLASSIFICATION and opts.classes is None and source.classes is None)
    need_labels = need_labels and yb.dim() <= 1  # several targets a row: the probe's dtype and shape tell
    if y_all is None and need_labels and not iterable:
        y_all = source.read_labels()  # the fallback: one pass, said once

    # 2. labels
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
        n_classes, codec = item_classes(opts, source.classes, y_all, yb)
    else:
        n_classes, codec = 0, None
    if task == REGRESSION and not (yb.is_floating_point() or yb.dtype in (torch.int32, torch.int64, torch.uint8)):
        raise DataError(f"regression needs numeric targets but the Dataset yields {yb.dtype}.")

    # 3. split
    test, val = opts.test, opts.val
    explicit_val = declared.val.dataset if declared.val is not None else None
    explicit_test = declared.test.dataset if declared.test is not None else None
    train_ds, test_ds = (
        split_dataset(source.dataset, test, seed, "test") if test > 0 else (source.dataset, explicit_test)
    )
    if val > 0:
        train_ds, val_ds = split_dataset(train_ds, val / (1 - test), seed + 1, "val")
    else:
        val_ds = explicit_val

    # 4. batches
    on_device = batch.first(xb).device.type != "cpu"
    check_workers(source.dataset, opts.workers, on_device)
    target_ndim = 1 if yb.dim() <= 1 else yb.dim() if kind == targets.POSITIONS else 2
    n_out = (int(np.prod(yb.shape[1:])) if yb.dim() > 1 else 1) if task == REGRESSION else n_classes
    generator = torch.Generator().manual_seed(seed)
    target_dtype = torch.long if task == CLASSIFICATION and kind != targets.MULTIHOT else torch.float32
    kw = dict(
        workers=opts.workers,
        on_device=on_device,
        target=source.target,
        collate=source.collate,
        keep_ints=keeps_ints(model, None),
    )
    batches = {
        "train": LoaderBatches(
            train_ds, bs, generator, dev, target_dtype, steps=opts.steps_per_epoch, probe=(xb, yb), **kw
        )
    }
    for key, ds in (("val", val_ds), ("test", test_ds)):
        if ds is not None:
            probe = partial(probe_items, ds, PROBE_ROWS, target=source.target, collate=source.collate)
            batches[key] = LoaderBatches(ds, max(bs, EVAL_CHUNK), generator, dev, target_dtype, probe=probe, **kw)
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
