"""Declared data -> :class:`~nbtrain.core.spec.Inputs`: task, labels, splits, preprocessing, batches.

In-memory data (``Table``) is cleaned of rows, split (seeded, stratified for classification),
preprocessed (fitted on the train split only) and moved to the device once.  A torch ``Dataset``
is split by index and read through a ``DataLoader``.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from . import batch, placement, targets
from . import preprocess as preprocessing
from .data import (
    CLASSIFICATION,
    REGRESSION,
    LabelCodec,
    Table,
    TensorBatches,
    adapt,
    infer_task,
    is_dataset,
    split,
)
from .errors import DataError, DataTypeError
from .losses import loss_task
from .models import parse_model
from .spec import Inputs, Options

#: validation and test splits are evaluated in chunks of at least this many rows
EVAL_CHUNK = 1024


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


def decide_task(loss, model, y: np.ndarray, task=None, classes=None) -> str:
    """A declaration decides (``task=``, the loss, a preset model, ``classes=``), then the targets' dtype."""
    task = declared_task(loss, model, task, classes) or infer_task(y)
    if task == REGRESSION and y.dtype.kind not in "biuf":
        raise DataError(
            f"regression needs numeric targets but y has dtype {y.dtype}; use a classification loss such as "
            '"cross_entropy" for labels.'
        )
    return task


class Prepared:
    """One split, preprocessed copy of in-memory data as host tensors (shared by the runs on the same
    arrays and options, see :mod:`~nbtrain.core.placement`), and its device copies, held weakly: a
    device copy lives while a training run (or a run placed there) holds it."""

    def __init__(self, *, task, codec, transformer, host: dict, target_ndim: int, n_out: int, kind="label"):
        self.task, self.codec, self.transformer, self.kind = task, codec, transformer, kind
        self.host, self.target_ndim, self.n_out = host, target_ndim, n_out
        self._copies: dict = {}

    def __getstate__(self):  # sent to distributed ranks: the weak device copies stay behind
        return {k: v for k, v in self.__dict__.items() if k != "_copies"}

    def __setstate__(self, state):
        self.__dict__.update(state, _copies={})

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


def keeps_ints(model, spec) -> bool:
    """The dtype rule: a model of the user's own, without preprocessing, gets integer and boolean
    inputs as they are (token ids, categorical indices); a preset model or a preprocessing step reads
    every feature as a float (integer tabular features are features, not ids)."""
    return isinstance(model, torch.nn.Module) and (spec is None or spec.empty)


def table_inputs(source: Table, opts: Options, spec, *, loss, model, val_data, test_data, target, raw=None) -> Inputs:
    """In-memory data: row filters, labels, splits, preprocessing fitted on train, tensors on the device
    (or on the host, ``data_device``); one shared copy for runs on the same arrays and options."""
    task = decide_task(loss, model, source.y, opts.task, opts.classes)
    keep_ints = keeps_ints(model, spec)
    key = None
    if raw is not None and spec.transformer is None:  # a user's transformer object: fitted per run
        kind = targets.kind_of(task, source.y.ndim, loss, opts.task)
        options = (target, spec.text, opts.val, opts.test, opts.seed, task, repr(opts.classes), keep_ints, kind)
        key = placement.make_key(list(raw), options)
    prepared = placement.SHARED.get(key)
    if prepared is None:
        prepared = placement.SHARED.put(
            key,
            _prepare(
                source,
                opts,
                spec,
                task,
                val_data=val_data,
                test_data=test_data,
                target=target,
                keep_ints=keep_ints,
                kind=targets.kind_of(task, source.y.ndim, loss, opts.task),
            ),
        )
    codec = prepared.codec
    n_classes = codec.n_classes if codec is not None else 0
    n_train = len(prepared.host["train"][1])
    bs = n_train if opts.full_batch else opts.batch_size
    generator = torch.Generator().manual_seed(opts.seed)
    dev = opts.device
    where = placement.choose(prepared.nbytes, dev, opts.data_device)
    copy = prepared.on(dev) if where == "device" else DeviceCopy(prepared, prepared.host)
    batches = {
        key: TensorBatches(X, y, bs if key == "train" else max(bs, EVAL_CHUNK), generator, device=dev, owner=copy)
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
            run._splits[key] = TensorBatches(X, y, b.batch_size, b.generator, device=b.device, owner=owner.prepared)


def _prepare(
    source: Table, opts: Options, spec, task: str, *, val_data, test_data, target, keep_ints=False, kind="label"
) -> Prepared:
    """Row filters, labels, splits and preprocessing (fitted on the train split only) -> host tensors."""
    source = preprocessing.apply_row_filters(source, spec)
    explicit_val = adapt(val_data, target, "val_data") if val_data is not None else None
    explicit_test = adapt(test_data, target, "test_data") if test_data is not None else None
    for extra in (explicit_val, explicit_test):
        if extra is not None and is_dataset(extra):
            raise DataTypeError("val_data/test_data must be in-memory like data when data is (X, y).")
    codec = None
    given = [("data", source)] + [
        (n, t) for n, t in (("val_data", explicit_val), ("test_data", explicit_test)) if t is not None
    ]
    for name, t in given:
        targets.check(kind, t.y, f"{name} y")
    if kind == targets.LABEL:
        codec = LabelCodec.fit(source.y, *(t.y for t in (explicit_val, explicit_test) if t is not None))
        if opts.classes is not None:
            codec = declared_codec(opts.classes, codec.classes)
    elif kind == targets.MULTIHOT:  # the classes are the columns
        k = source.y.shape[1]
        codec = LabelCodec(np.asarray(opts.classes) if isinstance(opts.classes, list) else np.arange(k))
    elif kind == targets.POSITIONS:
        n = targets.n_positions_classes(np.concatenate([t.y.ravel() for _, t in given]), opts.classes)
        codec = LabelCodec(np.asarray(opts.classes) if isinstance(opts.classes, list) else np.arange(n))
    split_seed = opts.seed % (2**32)  # scikit-learn's random_state is 32-bit
    stratify = kind == targets.LABEL
    train_t, test_t = (
        split(source, opts.test, split_seed, stratify, "test") if opts.test > 0 else (source, explicit_test)
    )
    if opts.val > 0:
        train_t, val_t = split(train_t, opts.val / (1 - opts.test), split_seed, stratify, "val")
    else:
        val_t = explicit_val

    # preprocessing: fitted on the train split only
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
    what = {"train": "training", "val": "validation", "test": "test"}
    host = {
        key: (batch.apply(as_tensor, feats[key]), _targets(parts[key], task, codec, what[key], kind)) for key in feats
    }
    n_classes = codec.n_classes if codec is not None else 0
    target_ndim = train_t.y.ndim
    n_out = (train_t.y.shape[1] if target_ndim == 2 else 1) if task == REGRESSION else n_classes
    return Prepared(
        task=task, codec=codec, transformer=transformer, host=host, target_ndim=target_ndim, n_out=n_out, kind=kind
    )


def as_tensor(a):
    """A host tensor of prepared features; a scipy sparse matrix stays sparse (:class:`.SparseRows`)."""
    if preprocessing.is_sparse(a):
        from .sparse import SparseRows

        return SparseRows.from_scipy(a)
    return torch.from_numpy(a)


def declared_codec(classes, seen: np.ndarray) -> LabelCodec:
    """The codec of declared ``classes=`` (a count K: labels 0..K-1; or the names); every label seen
    must be one of them."""
    names = np.arange(classes) if isinstance(classes, int) else np.unique(np.asarray(classes))
    try:
        missing = [v for v in seen.tolist() if v not in set(names.tolist())]
    except TypeError:
        missing = seen.tolist()
    if missing:
        raise DataError(
            f"the labels include {', '.join(map(repr, missing[:5]))}, which classes= does not name; "
            f"declared: {', '.join(map(repr, names.tolist()[:10]))}."
        )
    return LabelCodec(names)


def _targets(t: Table, task: str, codec, what: str, kind: str = "label") -> torch.Tensor:
    if kind in (targets.MULTIHOT, targets.POSITIONS):
        if kind == targets.POSITIONS and int(t.y.max()) >= codec.n_classes:
            raise DataError(
                f"{what} labels include {int(t.y.max())}, but there are {codec.n_classes} classes; fix classes=."
            )
        return targets.tensor(kind, t.y)
    if task == CLASSIFICATION:
        return torch.from_numpy(codec.encode(t.y, f"{what} labels"))
    y = t.y.astype(np.float32)
    if not np.isfinite(y).all():
        raise DataError(f'{what} targets contain NaN or infinite values; drop those rows (preprocess="dropna").')
    return torch.from_numpy(y)
