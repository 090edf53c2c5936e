"""The public Python API: ``train``, ``load``, ``attach`` and ``configure``.  The magics are a thin layer over these.

This is the layer that chooses views: ``display=`` becomes view objects here (the display package
is imported only when something is shown) and is handed to the core loop and the distributed
launcher, which never import views themselves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch

from .core import target_scale, warmup
from .core.errors import ConfigError, DataTypeError, RunFileError, first_line
from .core.events import Callback, CallbackList
from .core.history import History
from .core.loop import fit
from .core.options import PREPARE
from .core.pitfalls import PendingHints
from .core.prepare import prepare
from .core.resume import make_checkpointer
from .core.resume import resume as _resume
from .core.run import Run, runs

DISPLAYS = ("auto", "notebook", "console", "none")


def _views(display, run, plot: bool = True) -> list:
    if display in (None, False, "none"):
        return []
    from .display import views_for  # display code is imported only when something is shown

    return views_for(display, run, plot=plot)


def train(
    data=None,
    model=None,
    loss=None,
    optimizer=None,
    preprocess=None,
    *,
    epochs=10,
    batch_size=32,
    lr=None,
    val=0.2,
    test=0.2,
    val_data=None,
    test_data=None,
    seed=0,
    device="auto",
    metrics=None,
    patience=None,
    amp=None,
    callbacks=(),
    restore_best=False,
    display="auto",
    name=None,
    scheduler=None,
    target=None,
    compile=False,
    checkpoint=None,
    resume=False,
    monitor=None,
    processes=None,
    plot=True,
    clip=None,
    clip_value=None,
    accumulate=1,
    tf32=False,
    task=None,
    classes=None,
    workers=0,
    steps_per_epoch=None,
    data_device="auto",
    collate=None,
    keep_columns=None,
    tokenizer=None,
    freeze=None,
    unfreeze_at=None,
    log=None,
    scale_target=True,
) -> Run:
    """Train a model on declared data and return the :class:`Run`.

    >>> from sklearn.datasets import load_iris
    >>> run = train(load_iris(return_X_y=True), model="mlp(32)", preprocess="standardize",
    ...             epochs=30, display="none")
    >>> run.status
    'completed'

    The basics (every component is a preset string or your own object; see docs/presets.md):

    - ``data``: ``(X, y)`` arrays, tensors or DataFrame + Series; a DataFrame with ``target="column"``;
      a CSV / Parquet path; a torch ``Dataset``.  ``val=0.2`` / ``test=0.2`` split it (stratified for
      classification) unless ``val_data`` / ``test_data`` are given.
    - ``model``: ``"linear"``, ``"logistic"``, ``"svm"``, ``"mlp(64, 32, dropout=0.1)"``, ``"cnn(16, 32)"``
      or any ``nn.Module``; ``None``: the task's default (logistic for labels, linear for values).
    - ``loss``: ``"cross_entropy"``, ``"bce"``, ``"hinge"``, ``"mse"``, ``"mae"``, ``"huber"`` or a callable.
    - ``optimizer``: ``"adam"`` (default), ``"adamw"``, ``"sgd(momentum=0.9)"``, ``"gd"``, ``"rmsprop"``,
      ``"adagrad"``, a ``torch.optim`` class or a factory; ``lr`` overrides its default rate.
    - ``preprocess``: steps joined with ``|``, fitted on the training split only: ``"dropna"``,
      ``"drop_duplicates"``, ``"drop:COLUMN[,COLUMN]"``, ``"impute[:mean|median|most_frequent|constant]"``,
      ``"standardize"``, ``"normalize"``, ``"onehot"``; or a scikit-learn transformer / Pipeline.
    - ``metrics``: ``"accuracy,f1,auc"`` or ``"mse,mae,r2"`` (default: by task); ``epochs``, ``batch_size``,
      ``seed`` (results repeat), ``device`` ("auto", "cpu", "cuda", "mps"), ``name`` (in ``nbtrain.runs``).
    - ``patience=N`` stops after N epochs without improvement of ``monitor`` (default val_loss) and keeps
      the best epoch's weights; ``restore_best=True`` keeps them without stopping early.  Otherwise the
      model holds the last epoch's weights (the record says so when that is not the best epoch).

    ``lr="auto"`` runs :func:`nbtrain.lr_find` on the same declarations first and trains with its
    suggestion (one line says which).

    ``display`` is "auto" (widgets + live plot in a notebook, text in a terminal), "notebook", "console" or
    "none"; ``plot=False`` keeps the panel and table but draws no loss plot.  ``processes=N`` trains with
    DDP on N ranks (see docs/distributed.md).

    ``clip=1.0`` clips the gradients' total norm before each optimizer step (``clip_value=0.5``: each
    element instead); ``accumulate=K`` takes one optimizer step per K batches, the same update as one
    K-times-larger batch; ``tf32=True`` lets float32 matmuls and convolutions on CUDA use TF32 (faster,
    about 3 significant digits per product) and turns on ``cudnn.benchmark``, for this run only.

    Data (see docs/data.md): ``data`` may be a CSV or Parquet path (read with pandas, then as a
    DataFrame with ``target=``).  For a torch ``Dataset``: ``workers=N`` DataLoader processes,
    ``task=`` / ``classes=`` declare what its labels are (otherwise ``dataset.targets`` /
    ``dataset.classes``, and only then one read of every sample), ``steps_per_epoch=N`` for an
    ``IterableDataset``.  ``data_device="cpu"`` keeps in-memory arrays on the host and copies each
    batch ("auto": when they do not fit in free device memory; "device": always on the device).
    Inputs may be a tuple or dict of arrays (the model is called ``model(*x)`` / ``model(**x)``);
    a Dataset may yield dict items with the target under ``target=`` (default "labels", then
    "label"); ``collate=`` is the function that batches a Dataset's items (default: torch's).
    A Hugging Face ``datasets.Dataset`` (or a ``DatasetDict``'s train / validation / test splits)
    is read as a torch Dataset; columns its model's ``forward`` does not take are dropped with one
    line, ``keep_columns=[...]`` keeps more (see docs/hf.md).  ``tokenizer=tok`` (a transformers
    tokenizer) is kept as ``run.tokenizer`` and saved with the run: ``run.predict(["a new sentence"])``
    then takes raw texts.

    Fine-tuning (docs/hf.md): ``freeze="body"`` (all but the output head) or parameter-name patterns
    (``"bert.embeddings.*"``), ``unfreeze_at=E`` trains them again from epoch E, and
    ``lr={"classifier.*": 1e-3, "*": 2e-5}`` gives each pattern's parameters their own rate.

    ``scale_target=False`` trains a regression target that is far from unit scale as it is (by default it
    is standardised for training, with predictions and metrics in its own units; one hint line says so).

    ``log="tensorboard"`` / ``"mlflow"`` / ``"csv"`` (or a list) writes the run there too, with each
    logger's defaults (see docs/logging.md and :mod:`nbtrain.loggers` for their options).

    Every user mistake raises an :class:`nbtrain.NbtrainError` before training starts; ``nbtrain.runs``
    and earlier runs are left untouched.  A stop request or KeyboardInterrupt ends the run as
    ``"stopped"`` and returns it with the model and finished epochs.
    """
    given = dict(locals())  # every keyword of train, by name (core/options.py lists them: keep in step)
    warmup.wait()  # never import beside the %load_ext warm-up thread (nor fork ranks while it imports)
    if display not in DISPLAYS and display not in (None, False):
        raise ConfigError(f"display must be one of {', '.join(DISPLAYS)}, got {display!r}.")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"name must be a non-empty string, got {name!r}.")
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise DataTypeError(f"callbacks must be a list of nbtrain.Callback instances, got {type(callbacks).__name__}.")
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise DataTypeError(f"callbacks must be nbtrain.Callback instances, got {type(cb).__name__}.")
    if log is not None:
        from .loggers import from_option  # TensorBoard / MLflow are imported only when asked for

        callbacks += from_option(log)
    if resume and not checkpoint:
        raise ConfigError("resume=True needs checkpoint=PATH: the file to resume from.")
    declared = {k: given[k] for k in PREPARE}  # what core.prepare takes (core/options.py: stage)
    if isinstance(lr, str):  # lr="auto" (%%train --lr auto): the learning-rate finder runs first
        from .core.tune.finder import auto_lr

        declared["lr"] = auto_lr(declared, say=None if display in (None, False, "none") else print)
    if processes is not None and processes != 1:
        # data-parallel on N ranks (torch.distributed); imported only when asked for
        from .distributed import train_processes

        name = name or runs.next_name()
        previous = runs.get(name)
        try:
            return train_processes(
                dict(declared, checkpoint=checkpoint, resume=resume), processes=processes, callbacks=callbacks,
                name=name, views=lambda r: _views(display, r, plot),
            )  # fmt: skip
        finally:
            if runs.get(name) is not previous:  # the run got as far as existing: keep it, however it ended
                runs.keep(runs.get(name))
    run, job = prepare(**declared, name=name or runs.next_name())
    if resume:
        if os.path.exists(checkpoint):
            job.start_epoch = _resume(checkpoint, run, job)
        else:
            raise RunFileError(
                f"resume=True but there is no checkpoint at {checkpoint!r} yet; train once without resume."
            )
    if checkpoint:
        job.checkpoint = make_checkpointer(checkpoint, job)
    run.config["checkpoint"] = os.fspath(checkpoint) if checkpoint else None
    job.callbacks = CallbackList(job.hooks + callbacks + _views(display, run, plot))
    if getattr(run, "pending_hints", None):  # data pitfalls found before training (core/pitfalls.py)
        job.callbacks.append(PendingHints(job.callbacks, run.pending_hints))
    runs.register(run)  # a new run under an existing name replaces it, at the end of the order
    try:
        fit(run, job)
    finally:
        runs.keep(run)  # completed, stopped or failed: written to the run store (never raises)
    return run


def load(path, model: torch.nn.Module | None = None, trusted: Iterable[str] = (), name: str | None = None) -> Run:
    """Load a run saved with ``Run.save``, or a run of the run store by its name.  Nothing in the file
    is executed.

    A ``path`` that is not an existing file is a name in the run store: ``nbtrain.load("iris")`` is the
    newest run called iris, ``nbtrain.load("iris~1")`` the one before (see ``%runs``).  Preset models are
    rebuilt from the saved config; a run trained with your own ``nn.Module`` needs an instance of it:
    ``nbtrain.load(path, model=MyNet())``.  A transformers model is saved as safetensors plus its
    config and rebuilt from its config class (only classes that ``transformers`` exports, by name).

    >>> run = nbtrain.load("iris_mlp")                 # doctest: +SKIP
    >>> run.predict(X[:3])                             # doctest: +SKIP
    """
    from .core.device import Precision
    from .core.labels import LabelCodec
    from .core.models import KNOWN, build_model
    from .core.store import read_run_file

    stored = _stored(path)
    content = read_run_file(stored.file if stored is not None else path, trusted)
    meta, state = content["meta"], content["state"]
    config = meta["config"]
    if content.get("peft") is not None:  # LoRA adapters only: put back onto the base model given
        from .core.store.hfsave import attach_adapters

        model = attach_adapters(model, content["peft"], state, f"run file {os.fspath(path)!r}")
        state = None
    elif model is None and content.get("hf_model") is not None:  # a transformers model: from its saved config
        from .core.store.hfsave import rebuild

        model = rebuild(content["hf_model"], f"run file {os.fspath(path)!r}")
    if model is None:
        spec = config.get("model_spec") or (config.get("model") if config.get("model") in KNOWN else None)
        if spec is None:
            raise RunFileError(
                f"{os.fspath(path)!r} holds a run trained with a custom model ({config.get('model')}); "
                f"pass an instance: nbtrain.load({repr(path) if stored else 'path'}, model={config.get('model')}(...))."
            )
        if config.get("model_spec") is None:
            spec = "logistic" if meta["task"] == "classification" else "linear"
        model = build_model(spec, tuple(config["input_shape"]), int(config["n_out"]))
    try:
        if state is not None:
            model.load_state_dict(state)
        target_scale.restore(model, config)  # a regression target standardised for training
    except RuntimeError as exc:
        raise RunFileError(f"the weights in {os.fspath(path)!r} do not fit the model: {first_line(exc)}.") from None
    codec = LabelCodec(meta["classes"]) if meta["classes"] is not None else None
    run = Run(
        name or meta.get("name") or "loaded",
        model,
        task=meta["task"],
        config=config,
        preprocess=content["preprocess"],
        codec=codec,
        history=History(meta["history"]),
    )
    run.tokenizer = content.get("tokenizer")
    run.status = meta.get("status", "completed")
    run.best_epoch = meta.get("best_epoch")
    run._precision = Precision()
    if stored is not None:
        run.note, run.error, run.evaluations = stored.note, stored.error, stored.evaluations
    return run


def _stored(path):
    """The stored run that ``load(path)`` means, or None when ``path`` is a file path."""
    text = path if isinstance(path, str) else None
    if text is None or os.path.exists(text):
        return None
    stored = runs.stored(text)
    if stored is None:
        if text.endswith(".nbtrain") or "/" in text or os.sep in text:
            return None  # a path: read_run_file says there is no run file there
        store = runs.store
        names = [r.name for r in runs.listing() if not isinstance(r, Run)]
        where = f"the run store {store.path!r}" if store is not None else "the run store (it is off)"
        known = f"stored runs are {', '.join(names[-10:])}" if names else "it holds no runs"
        if text in runs:
            known += f" (this session's run is nbtrain.runs[{text!r}])"
        raise RunFileError(f"no run file at {text!r} and no run named {text!r} in {where}; {known}.")
    if stored.file is None:
        raise RunFileError(
            f"the run store keeps only the history and metrics of {text!r}: its weights could not be saved "
            f"({stored.unsaved}); %runs and %compare show it, but it cannot be loaded."
        )
    return stored


def attach(path, *, display="auto", callbacks=(), **kwargs) -> Run:
    """Follow a run exported with ``nbtrain.distributed.export`` and started with
    ``torchrun ... -m nbtrain.worker PATH``: rank 0's live numbers reach the views, then the Run ends
    with its history, weights and status.  ``display`` as for ``train``; other keywords (``out``,
    ``timeout``, ``watch``, ``name``, ``register``) go to :func:`nbtrain.distributed.attach`.

    >>> run = nbtrain.attach("/shared/run.nbtrain", timeout=600)   # doctest: +SKIP
    """
    from .distributed import attach as follow

    if display not in DISPLAYS and display not in (None, False):
        raise ConfigError(f"display must be one of {', '.join(DISPLAYS)}, got {display!r}.")
    run = follow(path, views=lambda r: _views(display, r), callbacks=callbacks, **kwargs)
    if kwargs.get("register", True):
        runs.keep(run)
    return run


_KEEP = object()


def configure(*, store=_KEEP) -> dict:
    """Settings for this session; returns them.  ``store``: the folder finished runs are written to
    (the run store), ``None`` to turn it off, ``""`` for the default (``NBTRAIN_STORE``, else
    ``.nbtrain/runs`` in the working directory).  See docs/runs.md.

    >>> nbtrain.configure(store="~/nbtrain-runs")      # doctest: +SKIP
    {'store': '/home/me/nbtrain-runs'}
    """
    if store is not _KEEP:
        if store is not None and not isinstance(store, (str, os.PathLike)):
            raise ConfigError(f"store must be a folder path, None (off) or '' (the default), got {store!r}.")
        runs.use_store(store)
    current = runs.store
    return {"store": None if current is None else current.path}
