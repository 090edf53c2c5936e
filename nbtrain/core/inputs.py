"""In-memory data -> :class:`~nbtrain.core.spec.Inputs`, one stage after the other.

A :class:`~nbtrain.core.sources.Table` (and the explicit ``val_data`` / ``test_data`` Tables) goes
down the path once, in this order, each stage reading only what the one before handed on:

1. clean (:mod:`.clean`): ``dropna`` / ``drop_duplicates`` on the whole data, before the split;
2. labels (:mod:`.labels`): the task, the kind of target, the label codec;
3. split (:mod:`.splits`): seeded, stratified for classification;
4. preprocess (:mod:`.preprocess`): fitted on the train split only, applied to the others;
5. batches (:mod:`.tensor_batches`): host tensors (one shared copy for the runs on the same arrays
   and options, :mod:`.placement`), on the device or the host, batched by index.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from . import batch, placement, targets
from . import preprocess as preprocessing
from .clean import apply_row_filters
from .declared import REGRESSION, keeps_ints
from .errors import DataError
from .labels import LabelCodec, decide_task, declared_codec
from .sparse import sparse_layout
from .spec import Inputs, Options
from .splits import split
from .tensor_batches import TensorBatches, as_tensor, target_tensor

#: validation and test splits are evaluated in chunks of at least this many rows
EVAL_CHUNK = 1024


class Prepared:
    """One split, preprocessed copy of in-memory data as host tensors (shared by the runs on the same
    arrays and options, see :mod:`~nbtrain.core.placement`), and its device copies, held weakly: a
    device copy lives while a training run (or a run placed there) holds it."""

    def __init__(self, *, task, codec, transformer, host: dict, target_ndim: int, n_out: int, kind="label", raw=None):
        self.task, self.codec, self.transformer, self.kind = task, codec, transformer, kind
        self.host, self.target_ndim, self.n_out = host, target_ndim, n_out
        # split -> (the Table as declared, row positions or None): the user's own rows for run.explain,
        # no copy (the declared table holds the user's arrays)
        self.raw = raw or {}
        self._copies: dict = {}

    def __getstate__(self):  # sent to distributed ranks: the weak device copies and the raw rows stay behind
        return {k: v for k, v in self.__dict__.items() if k not in ("_copies", "raw")}

    def __setstate__(self, state):
        self.__dict__.update(state, _copies={}, raw={})

    @property
    def nbytes(self) -> int:
        return sum(batch.nbytes(pair) for pair in self.host.values())

    def on(self, device: torch.device) -> DeviceCopy:
        """The splits on ``device``: the host tensors themselves on the CPU, else one shared copy."""
        ref = self._copies.get(str(device))
        copy = ref() if ref is not None else None
        if copy is None:
            if device.type == "cpu":
                copy = DeviceCopy(self, self.host)
            else:
                copy = DeviceCopy(
                    self, {k: batch.to_device((X, y), device, dtype=None) for k, (X, y) in self.host.items()}
                )
            self._copies[str(device)] = weakref.ref(copy)
        return copy


class DeviceCopy:
    def __init__(self, prepared: Prepared, tensors: dict):
        self.prepared, self.tensors = prepared, tensors  # the copy keeps its host original alive


def table_inputs(declared, opts: Options, spec, *, loss, model, raw=None) -> Inputs:
    """In-memory data (``declared``: :class:`~nbtrain.core.sources.Declared` of Tables): row filters,
    labels, splits, preprocessing fitted on train, tensors on the device (or on the host,
    ``data_device``); one shared copy for runs on the same arrays and options."""
    source = apply_row_filters(declared.data, spec)  # 1. clean
    task = decide_task(loss, model, source.y, opts.task, opts.classes)  # 2. labels
    kind = targets.kind_of(task, source.y.ndim, loss, opts.task)
    keep_ints = keeps_ints(model, spec)
    key = None
    if raw is not None and spec.transformer is None:  # a user's transformer object: fitted per run
        options = (
            tuple(declared.target) if isinstance(declared.target, list) else declared.target,  # hashable
            spec.text,
            opts.val,
            opts.test,
            opts.seed,
            task,
            repr(opts.classes),
            keep_ints,
            kind,
        )
        key = placement.make_key(list(raw), options)
    prepared = placement.SHARED.get(key)
    if prepared is None:
        prepared = placement.SHARED.put(key, _prepare(declared, source, opts, spec, task, keep_ints, kind))
    codec = prepared.codec
    n_classes = codec.n_classes if codec is not None else 0
    n_train = len(prepared.host["train"][1])
    bs = n_train if opts.full_batch else opts.batch_size
    generator = torch.Generator().manual_seed(opts.seed)
    dev = opts.device
    where = placement.choose(prepared.nbytes, dev, opts.data_device)
    copy = prepared.on(dev) if where == "device" else DeviceCopy(prepared, prepared.host)
    layout = sparse_layout(model)  # 5. batches: dense, or torch sparse where the model takes them
    batches = {
        key: TensorBatches(
            X, y, bs if key == "train" else max(bs, EVAL_CHUNK), generator, device=dev, owner=copy, layout=layout
        )
        for key, (X, y) in copy.tensors.items()
    }
    return Inputs(
        task=prepared.task,
        codec=codec,
        n_classes=n_classes,
        n_out=prepared.n_out,
        sample_shape=batch.shapes(prepared.host["train"][0]),
        target_ndim=prepared.target_ndim,
        n_train=n_train,
        batch_size=bs,
        batches=batches,
        transformer=prepared.transformer,
        generator=generator,
        data_device=where,
        target=prepared.kind,
    )


def release_device(run) -> None:
    """A finished run keeps no device copy of its data: its splits go back to the shared host copy
    (evaluate and predict then copy per batch, with the same numbers)."""
    for key, b in list(run._splits.items()):
        owner = getattr(b, "owner", None)
        if isinstance(owner, DeviceCopy) and batch.first(b.X).device.type != "cpu":
            X, y = owner.prepared.host[key]
            run._splits[key] = TensorBatches(
                X, y, b.batch_size, b.generator, device=b.device, owner=owner.prepared, layout=b.layout
            )


def _prepare(declared, source, opts: Options, spec, task: str, keep_ints: bool, kind: str) -> Prepared:
    """Labels, splits and preprocessing (fitted on the train split only) of the cleaned ``source`` ->
    host tensors."""
    explicit_val, explicit_test = declared.val, declared.test
    given = [("data", source)] + [
        (n, t) for n, t in (("val_data", explicit_val), ("test_data", explicit_test)) if t is not None
    ]
    for name, t in given:
        targets.check(kind, t.y, f"{name} y")
    codec = None
    if kind == targets.LABEL:
        codec = LabelCodec.fit(source.y, *(t.y for t in (explicit_val, explicit_test) if t is not None))
        if opts.classes is not None:
            codec = declared_codec(opts.classes, codec.classes)
    elif kind == targets.MULTIHOT:  # the classes are the columns (named by a DataFrame target's columns)
        k = source.y.shape[1]
        names = opts.classes if isinstance(opts.classes, list) else source.classes
        codec = LabelCodec(np.asarray(names) if names is not None else np.arange(k))
    elif kind == targets.POSITIONS:
        n = targets.n_positions_classes(np.concatenate([t.y.ravel() for _, t in given]), opts.classes)
        codec = LabelCodec(np.asarray(opts.classes) if isinstance(opts.classes, list) else np.arange(n))

    # 3. split
    split_seed = opts.seed % (2**32)  # scikit-learn's random_state is 32-bit
    stratify = kind == targets.LABEL
    train_t, test_t = (
        split(source, opts.test, split_seed, stratify, "test") if opts.test > 0 else (source, explicit_test)
    )
    if opts.val > 0:
        train_t, val_t = split(train_t, opts.val / (1 - opts.test), split_seed, stratify, "val")
    else:
        val_t = explicit_val

    # 4. preprocessing: fitted on the train split only
    transformer = preprocessing.build(spec, train_t.X)
    parts = {"train": train_t, "val": val_t, "test": test_t}
    feats = {
        "train": preprocessing.features(transformer, train_t.X, fit=True, what="training data", keep_ints=keep_ints)
    }
    for key in ("val", "test"):
        if parts[key] is not None:
            feats[key] = preprocessing.features(
                transformer, parts[key].X, fit=False, what=f"{key} data", keep_ints=keep_ints
            )
    sample_shape = batch.shapes(feats["train"])
    for key in ("val", "test"):
        if key in feats and batch.shapes(feats[key]) != sample_shape:
            raise DataError(
                f"{key} data has samples of shape {batch.shapes(feats[key])} but training data has {sample_shape}."
            )

    # 5. host tensors
    what = {"train": "training", "val": "validation", "test": "test"}
    host = {
        key: (batch.apply(as_tensor, feats[key]), target_tensor(parts[key], task, codec, what[key], kind))
        for key in feats
    }
    n_classes = codec.n_classes if codec is not None else 0
    target_ndim = train_t.y.ndim
    n_out = (train_t.y.shape[1] if target_ndim == 2 else 1) if task == REGRESSION else n_classes
    declared_rows = declared.data  # the user's own rows for run.explain (no copy: the declared table)
    raw = {
        key: (declared_rows, parts[key].rows) if parts[key].rows is not None else (parts[key], None) for key in feats
    }
    return Prepared(
        task=task, codec=codec, transformer=transformer, host=host, target_ndim=target_ndim, n_out=n_out, kind=kind,
        raw=raw,
    )  # fmt: skip
