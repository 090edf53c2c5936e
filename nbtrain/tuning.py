"""The tuning API: ``lr_find`` and ``sweep`` (the twins of ``%%lr_find`` and ``%%sweep``) and the
search spaces ``loguniform``, ``uniform``, ``intrange`` and ``choice``.

>>> lr = nbtrain.lr_find(load_digits(return_X_y=True), model="mlp(64)", preprocess="standardize")  # doctest: +SKIP
>>> s = nbtrain.sweep(load_digits(return_X_y=True), preprocess="standardize",
...                   model=nbtrain.choice(["mlp(32)", "mlp(64, 64)"]), lr=nbtrain.loguniform(1e-4, 1e-1),
...                   trials=20, metric="val_accuracy", epochs=5)                                   # doctest: +SKIP
>>> s.best_params, s.best_run                                                                       # doctest: +SKIP

Sweeps need Optuna: ``pip install 'nbtrain[tune]'``.
"""

from __future__ import annotations

from .api import DISPLAYS, train
from .core.errors import ConfigError, DataTypeError
from .core.events import Callback
from .core.run import runs
from .core.tune.finder import find_lr
from .core.tune.space import choice, intrange, loguniform, uniform
from .core.tune.study import optuna, storage_for
from .core.tune.sweep import preflight, run_sweep

__all__ = ["lr_find", "sweep", "loguniform", "uniform", "intrange", "choice"]

#: ``train`` keywords that only matter to a training run, not to the finder's ramp (accepted, unused)
_TRAIN_ONLY = ("display", "plot", "callbacks", "name", "patience", "monitor", "checkpoint", "resume", "processes")
_TRAIN_ONLY += ("log",)  # log= (the loggers): a training run's, not the finder's


def _check_display(display) -> None:
    if display not in DISPLAYS and display not in (None, False):
        raise ConfigError(f"display must be one of {', '.join(DISPLAYS)}, got {display!r}.")


def lr_find(
    data=None, model=None, loss=None, optimizer=None, preprocess=None, *,
    start_lr=1e-7, end_lr=10.0, steps=100, diverge=4.0, rule="minimum", **options,
):  # fmt: skip
    """Find a learning rate: an exponential ramp from ``start_lr`` to ``end_lr`` over ``steps`` steps
    at most, stopped when the smoothed loss exceeds ``diverge`` times its minimum.  Takes the same
    declarations and options as :func:`nbtrain.train`; the model, the optimizer and every RNG are
    put back afterwards.  Returns the suggestion: a float that shows the loss-vs-rate plot.

    >>> lr = nbtrain.lr_find(load_digits(return_X_y=True), model="mlp(64)", preprocess="standardize")  # doctest: +SKIP
    >>> nbtrain.train(load_digits(return_X_y=True), model="mlp(64)", preprocess="standardize", lr=lr)  # doctest: +SKIP

    ``rule``: "minimum" (fastai's: the smoothed loss's minimum / 10) or "steepest" (Lightning's).
    """
    from .display.tune import LRSuggestion

    _check_display(options.get("display", "auto"))
    declared = dict(data=data, model=model, loss=loss, optimizer=optimizer, preprocess=preprocess)
    declared.update({k: v for k, v in options.items() if k not in _TRAIN_ONLY})
    finding = find_lr(declared, start_lr=start_lr, end_lr=end_lr, steps=steps, diverge=diverge, rule=rule)
    if finding.suggestion is None:
        raise ConfigError(
            f"lr_find could not suggest a rate: the loss was {finding.reason} after {len(finding.lrs)} step(s) "
            f"from {start_lr:g}; check the data (standardize it?) or start lower."
        )
    return LRSuggestion(finding)


def _default_name(store) -> str:
    """A study's name: the one study in a storage (so a sweep run again goes on with it), else sweepN."""
    if store is not None:
        names = optuna().study.get_all_study_names(storage=store)
        if len(names) == 1:
            return names[0]
    i = 1
    while any(k.startswith(f"sweep{i}/") for k in runs) or f"sweep{i}" in runs:
        i += 1
    return f"sweep{i}"


def sweep(
    data=None, model=None, loss=None, optimizer=None, preprocess=None, *,
    trials=20, metric=None, direction=None, sampler="tpe", prune=False, storage=None, name=None,
    display="auto", callbacks=(), **options,
):  # fmt: skip
    """Search hyperparameters with Optuna: each trial is a :func:`nbtrain.train` call (a Run named
    ``<name>/<trial>``) in which every search space among the arguments takes a sampled value.

    >>> s = nbtrain.sweep(data, model=nbtrain.choice(["mlp(32)", "mlp(64, 64)"]),
    ...                   lr=nbtrain.loguniform(1e-4, 1e-1), trials=20, metric="val_accuracy")  # doctest: +SKIP

    ``metric``: the history column to optimise (default: the run's monitor, val_loss); its value for a
    trial is its best epoch's.  ``direction``: inferred from the metric (maximize accuracy, minimize
    losses).  ``sampler``: "tpe" (default), "random" or "grid" (discrete spaces only), seeded with
    ``seed``.  ``prune=True``: Optuna's MedianPruner stops hopeless trials after an epoch (or pass a
    pruner).  ``storage=PATH``: a journal file (or ``.db`` SQLite) that several processes or machines
    can share; a sweep run again with the same storage and name goes on where it ended.  ``trials``
    counts every trial of the study, over every worker.  Stop / KeyboardInterrupt ends the sweep at the
    next batch: finished trials stay, the interrupted one is queued again.
    """
    from .display.tune import sweep_view

    optuna()  # without Optuna: one clear error, before anything else
    _check_display(display)
    if name is not None and (not isinstance(name, str) or not name.strip() or "/" in name):
        raise ConfigError(f"name must be a non-empty string without '/', got {name!r}.")
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
        raise DataTypeError("callbacks must be a list of nbtrain.Callback instances.")
    kwargs = dict(data=data, model=model, loss=loss, optimizer=optimizer, preprocess=preprocess, **options)
    kwargs.pop("plot", None)
    if kwargs.get("lr") == "auto":
        from .core.tune.finder import check_auto

        check_auto(kwargs.get("optimizer"))
    spaces, metric, direction = preflight(kwargs, trials=trials, metric=metric, sampler=sampler, direction=direction)
    backend = storage_for(storage)
    kwargs["callbacks"] = list(callbacks)
    return run_sweep(
        train, kwargs, spaces, name=name or _default_name(backend[0]), trials=trials, metric=metric,
        direction=direction, sampler=sampler, seed=int(options.get("seed", 0)), prune=prune, backend=backend,
        observer=sweep_view(display),
    )  # fmt: skip
