"""Turn declared values into a checked :class:`Run` and :class:`Job`, before any training.

Every user mistake is raised here, as an NbtrainError, before the registry or any earlier run is
touched: data, split, preprocessing (fitted on the train split only), model, loss, optimizer, and
one batch through the model and loss to check shapes, dtypes and label ranges.
"""

from __future__ import annotations

import numpy as np
import torch

from . import data as D
from . import losses as L
from . import metrics as M
from . import models as Mo
from . import optim as O
from . import preprocess as P
from .device import describe, make_precision, resolve_device
from .errors import ConfigError, DataError, DataTypeError, NbtrainError, PresetError, ShapeError
from .evaluation import make_evaluator
from .loop import Job
from .presets import parse_preset
from .run import Run


def _positive_int(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be a fraction in [0, 1), got {value!r}; e.g. {name}=0.2.")
    return float(value)


def _describe(spec, default: str) -> str:
    if spec is None:
        return default
    if isinstance(spec, str):
        return str(parse_preset(spec)) if "|" not in spec else spec
    if isinstance(spec, torch.nn.Module):
        return type(spec).__name__
    return getattr(spec, "__name__", type(spec).__name__)


def _decide_task(loss, model, y: np.ndarray) -> str:
    task = L.loss_task(loss)
    if task is None and isinstance(model, str):
        name = Mo.parse_model(model).name
        task = {"logistic": D.CLASSIFICATION, "svm": D.CLASSIFICATION, "linear": D.REGRESSION}.get(name)
    task = task or D.infer_task(y)
    if task == D.REGRESSION and y.dtype.kind not in "biuf":
        raise DataError(
            f"regression needs numeric targets but y has dtype {y.dtype}; use a classification loss such as "
            '"cross_entropy" for labels.'
        )
    return task


def prepare(
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
    scheduler=None,
    target=None,
    compile=False,
    monitor=None,
    name="run",
    callbacks=None,
):
    """Build (run, job).  Raises NbtrainError subclasses for user mistakes; trains nothing."""
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    patience = _positive_int(patience, "patience", allow_none=True)
    O.check_lr(lr)
    val = _fraction(val, "val") if val_data is None else 0.0
    test = _fraction(test, "test") if test_data is None else 0.0
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
    precision = make_precision(amp, dev)
    pp = P.parse(preprocess)
    opt_name = O.optimizer_name(optimizer)
    torch.manual_seed(seed)
    np_seed = int(seed) % (2**32)

    source = D.adapt(data, target)
    if D.is_dataset(source):
        if not pp.empty:
            raise ConfigError("preprocessing presets apply to in-memory data; with a Dataset, transform inside it.")
        return _prepare_dataset(source, locals())

    # ---- task, row cleaning, labels, splits
    task = _decide_task(loss, model, source.y)
    source = P.apply_row_filters(source, pp)
    explicit_val = D.adapt(val_data, target, "val_data") if val_data is not None else None
    explicit_test = D.adapt(test_data, target, "test_data") if test_data is not None else None
    for extra in (explicit_val, explicit_test):
        if extra is not None and D.is_dataset(extra):
            raise DataTypeError("val_data/test_data must be in-memory like data when data is (X, y).")
    codec = None
    if task == D.CLASSIFICATION:
        codec = D.LabelCodec.fit(source.y, *(t.y for t in (explicit_val, explicit_test) if t is not None))
    strat = task == D.CLASSIFICATION
    train_t, test_t = D.split(source, test, np_seed, strat, "test") if test > 0 else (source, explicit_test)
    train_t, val_t = D.split(train_t, val / (1 - test), np_seed, strat, "val") if val > 0 else (train_t, explicit_val)

    # ---- preprocessing: fit on the train split only
    transformer = P.build(pp, train_t.X)
    feats = {"train": P.features(transformer, train_t.X, fit=True, what="training data")}
    for key, t in (("val", val_t), ("test", test_t)):
        if t is not None:
            feats[key] = P.features(transformer, t.X, fit=False, what=f"{key} data")
    sample_shape = feats["train"].shape[1:]
    for key in ("val", "test"):
        if key in feats and feats[key].shape[1:] != sample_shape:
            raise DataError(
                f"{key} data has samples of shape {feats[key].shape[1:]} but training data has {sample_shape}."
            )

    def targets(t: D.Table, what: str):
        if task == D.CLASSIFICATION:
            return torch.from_numpy(codec.encode(t.y, f"{what} labels"))
        y = t.y.astype(np.float32)
        if not np.isfinite(y).all():
            raise DataError(f'{what} targets contain NaN or infinite values; drop those rows (preprocess="dropna").')
        return torch.from_numpy(y)

    ys = {"train": targets(train_t, "training")}
    if val_t is not None:
        ys["val"] = targets(val_t, "validation")
    if test_t is not None:
        ys["test"] = targets(test_t, "test")
    n_classes = codec.n_classes if codec is not None else 0
    target_ndim = train_t.y.ndim
    n_out = (train_t.y.shape[1] if target_ndim == 2 else 1) if task == D.REGRESSION else n_classes

    # ---- model, loss, optimizer
    loss_fn = _loss_for(loss, model, task, n_classes)
    if loss_fn.single_output:
        n_out = 1
    gen = torch.Generator().manual_seed(int(seed))
    n_train = len(ys["train"])
    full_batch = opt_name == "gd"
    bs = n_train if full_batch else batch_size
    tensors = {k: (torch.from_numpy(feats[k]).to(dev), ys[k].to(dev)) for k in feats}  # once, onto the device
    batches = {k: D.TensorBatches(x, y, bs if k == "train" else max(bs, 1024), gen) for k, (x, y) in tensors.items()}
    ctx = dict(
        task=task,
        n_classes=n_classes,
        n_out=n_out,
        sample_shape=tuple(sample_shape),
        dev=dev,
        precision=precision,
        bs=bs,
        loss_fn=loss_fn,
    )
    net, model_desc = _model_for(model, task, ctx)
    _check_one_batch(net, loss_fn, batches["train"], ctx)
    return _finish(locals())


def _guard(kind: str, spec, fn, *args):
    """Build from a preset; a bad argument value that slips past the parser becomes a PresetError."""
    try:
        return fn(*args)
    except NbtrainError:
        raise
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, RuntimeError, MemoryError) as exc:
        if not isinstance(spec, str):
            raise
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        if isinstance(exc, (MemoryError, RuntimeError)) and "memory" in text:
            text = "it is too large to allocate"
        raise PresetError(f"{kind} {spec!r}: {text}") from None


def _dry_run_presets(optimizer, scheduler, lr, dev, epochs: int, steps: int, rate: float) -> None:
    """One step of a preset optimizer and scheduler on a dummy parameter, so that a bad argument
    value (\"adamw(amsgrad=x)\", \"step(step_size=0)\") is an error now, not in the middle of training."""
    import warnings

    if not isinstance(optimizer, str) and not isinstance(scheduler, str):
        return
    w = torch.zeros(1, device=dev, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = (
            O.build_optimizer(optimizer, [w], lr, dev)[0]
            if isinstance(optimizer, str)
            else torch.optim.SGD([w], lr=rate)
        )
        w.grad = torch.zeros_like(w)
        _guard("optimizer", optimizer, opt.step) if isinstance(optimizer, str) else opt.step()
        if isinstance(scheduler, str):
            sched = O.build_scheduler(scheduler, opt, epochs, steps, rate)[0]
            _guard("scheduler", scheduler, sched.step)


def _loss_for(loss, model, task: str, n_classes: int) -> L.Loss:
    if loss is None:
        default = "mse" if task == D.REGRESSION else "cross_entropy"
        if isinstance(model, str):
            default = Mo.DEFAULT_LOSS.get(Mo.parse_model(model).name, default)
        loss = default
    fn = _guard("loss", loss, L.build_loss, loss, n_classes)
    if fn.name == "bce" and n_classes > 2:
        raise ShapeError(f'"bce" is for two classes but the labels have {n_classes}; use loss="cross_entropy".')
    return fn


def _model_for(model, task, ctx):
    if model is None:
        model = "logistic" if task == D.CLASSIFICATION else "linear"
    if isinstance(model, str):
        net = _guard("model", model, Mo.build_model, model, ctx["sample_shape"], ctx["n_out"])
        desc = str(Mo.parse_model(model))
    elif isinstance(model, torch.nn.Module):
        net, desc = model, type(model).__name__
    else:
        raise DataTypeError(
            f'model must be a preset like "mlp(64, 64)" or a torch.nn.Module, got {type(model).__name__}.'
        )
    return net.to(ctx["dev"]), desc


def _check_one_batch(net, loss_fn, batches, ctx) -> None:
    """Run a few training rows through the model and the loss; turn failures into clear errors."""
    xb, yb = batches.X[:8], batches.y[:8]
    was = net.training
    net.eval()
    try:
        with torch.no_grad(), ctx["precision"].autocast():
            try:
                out = net(xb)
            except (RuntimeError, ValueError, IndexError) as exc:
                raise ShapeError(
                    f"the model failed on a batch of shape {tuple(xb.shape)}: {str(exc).splitlines()[0]}; "
                    f"make its input size match the data's sample shape {ctx['sample_shape']}."
                ) from None
            if not isinstance(out, torch.Tensor):
                raise ShapeError(f"the model must return a tensor, but it returned {type(out).__name__}.")
            if out.dim() == 0 or out.shape[0] != len(xb):
                raise ShapeError(
                    f"the model returned shape {tuple(out.shape)} for a batch of {len(xb)} rows; "
                    "its first dimension must be the batch."
                )
            width = 1 if out.dim() == 1 else int(np.prod(out.shape[1:]))
            if ctx["task"] == D.CLASSIFICATION and loss_fn.task is not None:
                need = ctx["n_out"]
                if loss_fn.single_output and width != 1:
                    raise ShapeError(
                        f"loss {loss_fn.name!r} needs one output per sample but the model gives {width}; "
                        'give the last layer 1 output or use loss="cross_entropy".'
                    )
                if not loss_fn.single_output and width < need:
                    raise ShapeError(
                        f"the model gives {width} outputs per sample but the data has {need} classes; "
                        f"give its last layer {need} outputs."
                    )
            elif ctx["task"] == D.REGRESSION and width != ctx["n_out"]:
                raise ShapeError(
                    f"the model gives {width} outputs per sample but the targets have {ctx['n_out']} "
                    f"value(s) per sample; give its last layer {ctx['n_out']} output(s)."
                )
            try:
                value = loss_fn(out, yb)
            except (RuntimeError, ValueError, IndexError, TypeError) as exc:
                raise ShapeError(
                    f"the loss {loss_fn.name!r} failed on outputs {tuple(out.shape)} and targets "
                    f"{tuple(yb.shape)}: {str(exc).splitlines()[0]}."
                ) from None
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise ShapeError(
                    f"the loss {loss_fn.name!r} must return one number (a scalar tensor), "
                    f"got {getattr(value, 'shape', type(value).__name__)}."
                )
    finally:
        net.train(was)


def _finish(v: dict):
    """Shared tail of prepare(): optimizer, scheduler, metrics, the Run and the Job."""
    net, dev, precision, task, loss_fn = v["net"], v["dev"], v["precision"], v["task"], v["loss_fn"]
    opt, info = O.build_optimizer(v["optimizer"], net.parameters(), v["lr"], dev)
    batches = v["batches"]
    train_b = batches["train"]
    sched, per_batch = O.build_scheduler(v["scheduler"], opt, v["epochs"], len(train_b), info.lr)
    _dry_run_presets(v["optimizer"], v["scheduler"], v["lr"], dev, v["epochs"], len(train_b), info.lr)
    names = M.parse_metrics(v["metrics"], task)
    monitor = v["monitor"] or ("val_loss" if "val" in batches else "train_loss")
    higher = M.HIGHER_IS_BETTER.get(monitor.removeprefix("val_").removeprefix("train_"), False)
    loop_model = torch.compile(net) if v["compile"] else net
    evaluator = make_evaluator(loss_fn, precision, names, task, v["n_classes"], chunk=max(v["bs"], 1024))
    config = {
        "model": v["model_desc"],
        "loss": loss_fn.name,
        "optimizer": info.name,
        "lr": info.lr,
        "epochs": v["epochs"],
        "batch_size": v["bs"],
        "preprocess": _pp_desc(v["preprocess"]),
        "val": v["val"],
        "test": v["test"],
        "seed": int(v["seed"]),
        "device": describe(dev),
        "amp": precision.name,
        "metrics": list(names),
        "patience": v["patience"],
        "scheduler": _describe(v["scheduler"], "none") if v["scheduler"] is not None else None,
        "task": task,
        "n_classes": v["n_classes"],
        "n_out": v["n_out"],
        "input_shape": list(v["sample_shape"]),
        "target_ndim": v.get("target_ndim", 1),
        "n_train": v["n_train"],
        "model_spec": v["model"] if isinstance(v["model"], str) or v["model"] is None else None,
        "compile": bool(v["compile"]),
        "monitor": monitor,
    }
    run = Run(v["name"], net, task=task, config=config, preprocess=v.get("transformer"), codec=v.get("codec"))
    run._splits = {k: b for k, b in batches.items()}
    run._precision, run._device = precision, dev
    run._generator = v["gen"]
    job = Job(
        model=loop_model,
        loss_fn=loss_fn,
        optimizer=opt,
        precision=precision,
        train_batches=train_b,
        val_batches=batches.get("val"),
        scheduler=sched,
        scheduler_per_batch=per_batch,
        epochs=v["epochs"],
        evaluator=evaluator,
        patience=v["patience"],
        monitor=monitor,
        monitor_higher=higher,
        batch_size=v["bs"],
    )
    return run, job


def _pp_desc(preprocess) -> str:
    if preprocess is None:
        return "none"
    if isinstance(preprocess, str):
        return preprocess
    if isinstance(preprocess, (list, tuple)):
        return " | ".join(map(str, preprocess))
    return type(preprocess).__name__


def _prepare_dataset(source, v: dict):
    """A torch Dataset: targets read once for the task and classes, then a DataLoader per epoch."""
    y_all = D.dataset_targets(source)
    task = _decide_task(v["loss"], v["model"], y_all)
    codec = None
    n_classes = 0
    if task == D.CLASSIFICATION:
        if y_all.dtype.kind not in "iub":
            raise DataError("a Dataset for classification must yield integer class indices 0..K-1 as targets.")
        n_classes = int(y_all.max()) + 1
        if y_all.min() < 0:
            raise DataError("Dataset class indices must be >= 0.")
        codec = D.LabelCodec(np.arange(n_classes))
    val, test, seed = v["val"], v["test"], int(v["seed"])
    train_ds, test_ds = D.split_dataset(source, test, seed, "test") if test > 0 else (source, v["test_data"])
    train_ds, val_ds = (
        D.split_dataset(train_ds, val / (1 - test), seed + 1, "val") if val > 0 else (train_ds, v["val_data"])
    )
    x0 = source[0][0]
    sample_shape = tuple(torch.as_tensor(x0).shape)
    n_out = (int(np.prod(y_all.shape[1:])) if y_all.ndim > 1 else 1) if task == D.REGRESSION else n_classes
    dev, precision = v["dev"], v["precision"]
    loss_fn = _loss_for(v["loss"], v["model"], task, n_classes)
    if loss_fn.single_output:
        n_out = 1
    gen = torch.Generator().manual_seed(seed)
    bs = v["batch_size"]
    tdtype = torch.long if task == D.CLASSIFICATION else torch.float32
    batches = {"train": D.LoaderBatches(train_ds, bs, gen, dev, tdtype)}
    for key, ds in (("val", val_ds), ("test", test_ds)):
        if ds is not None:
            if not D.is_dataset(ds):
                raise DataTypeError(f"{key}_data must be a Dataset too when data is a Dataset.")
            batches[key] = D.LoaderBatches(ds, max(bs, 1024), gen, dev, tdtype)
    ctx = dict(
        task=task,
        n_classes=n_classes,
        n_out=n_out,
        sample_shape=sample_shape,
        dev=dev,
        precision=precision,
        bs=bs,
        loss_fn=loss_fn,
    )
    net, model_desc = _model_for(v["model"], task, ctx)
    xb, yb = next(iter(batches["train"].epoch(shuffle=False)))
    _check_one_batch(net, loss_fn, _Probe(xb, yb), ctx)
    out = dict(v)
    out.update(
        task=task,
        codec=codec,
        n_classes=n_classes,
        n_out=n_out,
        sample_shape=sample_shape,
        loss_fn=loss_fn,
        gen=gen,
        bs=bs,
        batches=batches,
        net=net,
        model_desc=model_desc,
        transformer=None,
        n_train=len(train_ds),
        target_ndim=y_all.ndim,
    )
    return _finish(out)


class _Probe:
    def __init__(self, X, y):
        self.X, self.y = X, y
