"""Turn declared values into a checked :class:`Run` and :class:`Job`, before any training.

Every user mistake is raised here, as an NbtrainError, before the registry or any earlier run is
touched: options (:func:`~nbtrain.core.spec.check_options`), data, split and preprocessing fitted on
the train split only (:mod:`~nbtrain.core.inputs`), model, loss, optimizer, and one batch through
the model and loss to check shapes, dtypes and label ranges (:mod:`~nbtrain.core.probe`).

>>> run, job = prepare(load_iris(return_X_y=True), model="mlp(16)", name="r")   # doctest: +SKIP
"""

from __future__ import annotations

import warnings

import torch

from . import declared as declarations
from . import sources, target_scale
from .batch import call, named_leaves, own_loss, takes_labels
from .dataset_inputs import dataset_inputs
from .declared import CLASSIFICATION, REGRESSION, keeps_ints
from .device import describe
from .early import keep_best
from .errors import ConfigError, DataTypeError, DeviceError, NbtrainError, PresetError, ShapeError, first_line
from .evaluation import make_evaluator
from .finetune import param_counts
from .inputs import EVAL_CHUNK, table_inputs
from .lm import is_causal_lm
from .loop import Job
from .losses import Loss, build_loss
from .metrics import HIGHER_IS_BETTER, parse_metrics
from .models import DEFAULT_LOSS, build_model, parse_model
from .optim import build_optimizer, build_scheduler
from .options import collect
from .pitfalls import data_hints
from .presets import parse_preset
from .probe import check_one_batch
from .run import Run
from .spec import Inputs, Options, Parts, check_options
from .texts import check_tokenizer


def prepare(data=None, model=None, loss=None, optimizer=None, preprocess=None, *, name="run", **options):
    """Build ``(run, job)``.  Raises NbtrainError subclasses for user mistakes; trains nothing.

    ``options``: the keywords of ``train`` whose stage is "prepare" in ``core/options.py`` (``epochs``,
    ``val_data``, ``target``, ...); missing ones take their defaults, an unknown one is a ConfigError."""
    options = collect(options, "prepare")
    val_data, test_data, scheduler, target, collate = (
        options[k] for k in ("val_data", "test_data", "scheduler", "target", "collate")
    )
    keep_columns, freeze, unfreeze_at = (options[k] for k in ("keep_columns", "freeze", "unfreeze_at"))
    tokenizer = check_tokenizer(options["tokenizer"])
    # the data path, one direction (docs/architecture.md): every kind of source adapted once here ...
    declared = sources.adapt_all(
        data, val_data, test_data, target=target, collate=collate, model=model, keep_columns=keep_columns
    )
    target = options["target"] = declared.target
    if options["classes"] is None:
        options["classes"] = declared.classes  # what a source names itself (a Hugging Face ClassLabel)
    lrs = None
    if isinstance(options["lr"], dict):  # lr by parameter-name pattern (core/finetune.py)
        lrs, options["lr"] = options["lr"], None
    opts = check_options(options, name=name, optimizer=optimizer, val_data=declared.val, test_data=declared.test)
    spec = declarations.parse(preprocess)
    torch.manual_seed(opts.seed)  # before the data is read: a random Dataset and the model's init repeat

    if collate is not None and not callable(collate):
        raise ConfigError(f"collate must be a function that batches a list of items, got {type(collate).__name__}.")
    source = declared.data
    hints = data_hints(source, spec) if source.in_memory else []  # said once the views have started
    if not source.in_memory:  # ... then labels, split, (preprocessing), batches: dataset_inputs / table_inputs
        if not spec.empty:
            raise ConfigError("preprocessing presets apply to in-memory data; with a Dataset, transform inside it.")
        inputs = dataset_inputs(declared, opts, loss=loss, model=model)
    else:
        if collate is not None:
            raise ConfigError("collate= batches a torch Dataset's items; in-memory arrays are batched by slicing.")
        for key, value in (("workers", opts.workers), ("steps_per_epoch", opts.steps_per_epoch)):
            if value:
                raise ConfigError(
                    f"{key}= is for a torch Dataset; in-memory data is batched by slicing, without a DataLoader."
                )
        inputs = table_inputs(declared, opts, spec, loss=loss, model=model, raw=(data, val_data, test_data))
    parts, scale = target_scale.standardize(_parts(model, loss, inputs, opts), inputs, enabled=opts.scale_target)
    if scale is not None:
        hints.append(target_scale.hint(scale))
    tune = None
    if freeze is not None or unfreeze_at is not None or lrs is not None:
        from .finetune import plan_finetune

        tune = plan_finetune(parts.net, freeze=freeze, unfreeze_at=unfreeze_at, lr=lrs, epochs=opts.epochs)
    xb, yb = inputs.batches["train"].probe()
    check_one_batch(
        parts, xb, yb, task=inputs.task, sample_shape=inputs.sample_shape, precision=opts.precision, kind=inputs.target
    )
    run, job = _run_and_job(
        opts, inputs, parts, optimizer=optimizer, scheduler=scheduler, model=model, preprocess=preprocess,
        target=target, tune=tune,
    )  # fmt: skip
    run.pending_hints = hints
    run.tokenizer = tokenizer  # predict on raw texts (core/texts.py)
    named_columns = inputs.target == "multihot" and getattr(source, "classes", None) is not None  # a DataFrame's
    run.config["named_classes"] = isinstance(opts.classes, list) or named_columns  # ClassLabel, id2label, classes=
    run.config["target_scale"] = scale
    given = [k for k, d in (("val", declared.val), ("test", declared.test)) if d is not None]
    run.config["given_splits"] = given or None  # declared as data: %compare says "given", not a fraction 0
    return keep_best(run, job, opts.restore_best)


def guard(kind: str, spec, fn, *args):
    """Build from a preset; a bad argument value that slips past the parser becomes a PresetError."""
    try:
        return fn(*args)
    except NbtrainError:
        raise
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, RuntimeError, MemoryError) as exc:
        if not isinstance(spec, str):
            raise
        text = first_line(exc)
        if isinstance(exc, (MemoryError, RuntimeError)) and "memory" in text:
            text = "it is too large to allocate"
        raise PresetError(f"{kind} {spec!r}: {text}") from None


def _parts(model, loss, inputs: Inputs, opts: Options) -> Parts:
    loss_fn = _loss_for(loss, model, inputs.task, inputs.n_classes, inputs.target)
    n_out = 1 if loss_fn.single_output and inputs.target == "label" else inputs.n_out
    if model is None:
        model = "logistic" if inputs.task == CLASSIFICATION else "linear"
    if isinstance(model, str) and not isinstance(inputs.sample_shape, tuple):
        names = ", ".join(p or "x" for p, _ in named_leaves(inputs.batches["train"].probe()[0]))
        raise ConfigError(
            f"the preset model {model!r} takes one input array, but x has several ({names}); give a "
            "torch.nn.Module whose forward takes them (model(*x) for a tuple, model(**x) for a dict)."
        )
    if isinstance(model, str):
        net = guard("model", model, build_model, model, inputs.sample_shape, n_out)
        description = str(parse_model(model))
    elif isinstance(model, torch.nn.Module):
        net, description = model, type(model).__name__
        check_dtypes(net, opts.device)
        loss_fn = _own_or(loss, loss_fn, net.to(opts.device), inputs, opts)
    else:
        raise DataTypeError(
            f'model must be a preset like "mlp(64, 64)" or a torch.nn.Module, got {type(model).__name__}.'
        )
    return Parts(net=net.to(opts.device), description=description, loss=loss_fn, n_out=n_out)


class OwnLossWarning(UserWarning):
    """The model computes its own loss, but ``loss=`` was given: the given one is used on the logits."""


def _own_or(loss, loss_fn: Loss, net, inputs: Inputs, opts: Options) -> Loss:
    """The model's own loss (transformers' convention: ``output.loss``, computed from ``labels=`` when
    its forward takes them) where no ``loss=`` is given; with one given, a line says it is used instead."""
    wants = takes_labels(net)
    if loss is not None:
        if wants:
            warnings.warn(
                f"the model computes its own loss from labels=; the given loss {loss_fn.name!r} is applied to its "
                "logits instead (leave loss out to train on the model's own).",
                OwnLossWarning,
                stacklevel=4,
            )
        return loss_fn
    xb, yb = inputs.batches["train"].probe()
    was = net.training
    net.eval()
    try:
        with torch.no_grad(), opts.precision.autocast():
            out = call(net, xb, yb if wants else None)
    except Exception:
        return loss_fn  # the probe says what is wrong, in one sentence
    finally:
        net.train(was)
    if own_loss(out) is None:
        return loss_fn
    return Loss("model's own", None, None, own=True, wants_labels=wants)


def check_dtypes(net: torch.nn.Module, device: torch.device) -> None:
    """MPS has no float64: a double model there is one clear error, not a crash inside the first step."""
    if device.type != "mps":
        return
    wide = next(
        (n for n, p in list(net.named_parameters()) + list(net.named_buffers()) if p.dtype == torch.float64), None
    )
    if wide is not None:
        raise DeviceError(
            f"the model's {wide!r} is float64, which MPS does not support; call model.float() before training."
        )


def _loss_for(loss, model, task: str, n_classes: int, kind: str = "label") -> Loss:
    if loss is None:
        loss = "mse" if task == REGRESSION else "bce" if kind == "multihot" else "cross_entropy"
        if isinstance(model, str) and kind == "label":
            loss = DEFAULT_LOSS.get(parse_model(model).name, loss)
    fn = guard("loss", loss, build_loss, loss, n_classes)
    if kind != "label":
        return fn
    if fn.name == "bce" and n_classes > 2:
        raise ShapeError(f'"bce" is for two classes but the labels have {n_classes}; use loss="cross_entropy".')
    return fn


def _dry_run_presets(optimizer, scheduler, lr, dev, epochs: int, steps: int, rate: float) -> None:
    """One step of a preset optimizer and scheduler on a dummy parameter, so that a bad argument
    value ("adamw(amsgrad=x)", "step(step_size=0)") is an error now, not in the middle of training."""
    if not isinstance(optimizer, str) and not isinstance(scheduler, str):
        return
    w = torch.zeros(1, device=dev, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(optimizer, str):
            opt = build_optimizer(optimizer, [w], lr, dev)[0]
        else:
            opt = torch.optim.SGD([w], lr=rate)
        w.grad = torch.zeros_like(w)
        guard("optimizer", optimizer, opt.step) if isinstance(optimizer, str) else opt.step()
        if isinstance(scheduler, str):
            sched = build_scheduler(scheduler, opt, epochs, steps, rate)[0]
            guard("scheduler", scheduler, sched.step)


def _run_and_job(
    opts: Options, inputs: Inputs, parts: Parts, *, optimizer, scheduler, model, preprocess, target=None, tune=None
):
    """The optimizer, scheduler, metrics and monitor; then the Run (what users keep) and the Job (what
    the loop needs)."""
    dev, net = opts.device, parts.net
    params = tune.groups if tune is not None and tune.groups is not None else net.parameters()
    opt, info = build_optimizer(optimizer, params, opts.lr, dev, fp16=opts.precision.name == "fp16")
    train_batches = inputs.batches["train"]
    steps = -(-len(train_batches) // opts.accumulate)  # optimizer steps per epoch: what a scheduler counts
    peak = [g["lr"] for g in opt.param_groups] if tune is not None and tune.lrs else info.lr  # onecycle: per group
    sched, per_batch = build_scheduler(scheduler, opt, opts.epochs, steps, peak)
    _dry_run_presets(optimizer, scheduler, opts.lr, dev, opts.epochs, steps, info.lr)
    lm = inputs.target == "positions" and is_causal_lm(net)  # next-token targets: perplexity (core/lm.py)
    if lm:
        from . import lm as causal

        names = causal.metric_names(opts.metrics)
        evaluator = causal.make_evaluator(opts.precision, names)
    else:
        names = parse_metrics(opts.metrics, inputs.task, kind=inputs.target, images=inputs.target_ndim >= 3)
        evaluator = make_evaluator(
            parts.loss,
            opts.precision,
            names,
            inputs.task,
            inputs.n_classes,
            chunk=max(inputs.batch_size, EVAL_CHUNK),
            kind=inputs.target,
        )
    monitor = opts.monitor or ("val_loss" if "val" in inputs.batches else "train_loss")
    higher = HIGHER_IS_BETTER.get(monitor.removeprefix("val_").removeprefix("train_"), False)
    config = {
        "model": parts.description,
        "loss": parts.loss.name,
        "optimizer": info.name,
        "optimizer_spec": _describe(optimizer) if isinstance(optimizer, str) and "(" in optimizer else None,
        "lr": info.lr,
        "epochs": opts.epochs,
        "batch_size": inputs.batch_size,
        "preprocess": _describe_preprocess(preprocess),
        "val": opts.val,
        "test": opts.test,
        "seed": opts.seed,
        "device": describe(dev),
        "amp": opts.precision.name,
        "metrics": list(names),
        "patience": opts.patience,
        "scheduler": _describe(scheduler) if scheduler is not None else None,
        "task": inputs.task,
        "n_classes": inputs.n_classes,
        "n_out": parts.n_out,
        "input_shape": list(inputs.sample_shape) if _one_shape(inputs.sample_shape) else [],
        "input_shapes": _input_shapes(train_batches) if not _one_shape(inputs.sample_shape) else None,
        "int_inputs": keeps_ints(model, declarations.parse(preprocess)),
        "target_ndim": inputs.target_ndim,
        "target_kind": inputs.target,
        "n_train": inputs.n_train,
        "model_spec": model if isinstance(model, str) or model is None else None,
        "compile": opts.compile,
        "monitor": monitor,
        "clip": opts.clip,
        "clip_value": opts.clip_value,
        "accumulate": opts.accumulate,
        "tf32": opts.tf32,
        "workers": opts.workers,
        "data_device": inputs.data_device,
        "target": target,
        "lm": lm,
        **param_counts(net),  # trainable / total: the panel and %runs show them (peft: the adapters)
    }
    if tune is not None:  # fine-tuning (core/finetune.py): what was frozen, the rates by pattern, the counts
        config.update(tune.describe(net))
    run = Run(opts.name, net, task=inputs.task, config=config, preprocess=inputs.transformer, codec=inputs.codec)
    run._splits = dict(inputs.batches)
    run._precision, run._device = opts.precision, dev
    run._loss = parts.loss  # run.explain's per-row losses
    run._generator = inputs.generator
    job = Job(
        model=_compiled(net) if opts.compile else net,
        loss_fn=parts.loss,
        optimizer=opt,
        precision=opts.precision,
        train_batches=train_batches,
        val_batches=inputs.batches.get("val"),
        scheduler=sched,
        scheduler_per_batch=per_batch,
        epochs=opts.epochs,
        evaluator=evaluator,
        patience=opts.patience,
        monitor=monitor,
        monitor_higher=higher,
        batch_size=inputs.batch_size,
        clip=opts.clip,
        clip_value=opts.clip_value,
        accumulate=opts.accumulate,
        tf32=opts.tf32,
    )
    if tune is not None:
        job.hooks = list(tune.hooks)
    return run, job


def _compiled(net):
    """``torch.compile(net)``; where this torch cannot compile on this Python, one clear error now."""
    try:
        return torch.compile(net)
    except RuntimeError as exc:
        raise ConfigError(
            f"compile=True is not available with torch {torch.__version__} here ({first_line(exc)}); "
            "update torch or train without compile."
        ) from None


def _describe(spec) -> str:
    if isinstance(spec, str):
        return str(parse_preset(spec)) if "|" not in spec else spec
    if isinstance(spec, torch.nn.Module):
        return type(spec).__name__
    return getattr(spec, "__name__", type(spec).__name__)


def _describe_preprocess(preprocess) -> str:
    if preprocess is None:
        return "none"
    if isinstance(preprocess, str):
        return preprocess
    if isinstance(preprocess, (list, tuple)):
        return " | ".join(map(str, preprocess))
    return type(preprocess).__name__


def _one_shape(shape) -> bool:
    """One input's sample shape ``(4,)``, not a tuple of several inputs' ``((3,), ())``."""
    return isinstance(shape, tuple) and all(isinstance(d, int) for d in shape)


def _input_shapes(batches) -> dict:
    """``{"num": [4], "cat": []}``: the sample shape of each of several inputs, by path."""
    xb, _ = batches.probe()
    return {path: list(t.shape[1:]) for path, t in named_leaves(xb) if hasattr(t, "shape")}
