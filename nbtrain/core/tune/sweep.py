"""The sweep runner: ask Optuna for a trial, train it with the sampled values, tell Optuna the result.

Each trial is a ``train`` call (handed in by the API layer) named ``<sweep>/<trial number>``, so it is
a Run in ``nbtrain.runs`` like any other.  A :class:`Reporter` callback reports the metric after each
epoch to the Optuna trial; with pruning on, when Optuna says the trial is hopeless it calls
``run.request_stop("pruned by ...")`` and the trial is told ``PRUNED``.

- A trial whose ``train`` raises, or whose run fails (NaN loss, out of memory), is told ``FAIL`` with
  its reason; the sweep goes on.
- The Stop button or a KeyboardInterrupt stops the trial's run at the next batch; the sweep then ends.
  Finished trials stay; the interrupted one is recorded as failed with status "stopped" and queued
  again, so the same sweep run again (same ``storage`` and name) evaluates it first and goes on.
- A completed trial's value is the metric at its run's best epoch (the run's monitor is the sweep's
  metric unless ``monitor=`` is given): the best value of the metric over its epochs.
"""

from __future__ import annotations

import contextlib
import math

from ..errors import ConfigError, NbtrainError, quote
from ..events import Callback
from ..history import run_best
from ..metrics import HIGHER_IS_BETTER
from ..options import PREPARE
from ..prepare import prepare
from .result import Sweep, best_of
from .space import find_spaces, substitute
from .study import SAMPLERS, ask, mark, open_study, optuna, pruner_for, requeue


class SweepObserver:
    """What a sweep tells its views (no-op defaults).  ``display/tune.py`` has the real ones."""

    def start(self, sweep) -> None:
        """The study is open; no trial has run yet."""

    def should_stop(self, sweep) -> bool:
        """Whether the user asked the sweep to end (a Stop button clicked between two trials)."""
        return False

    def trial_callbacks(self, sweep, number: int) -> list:
        """Extra callbacks (views) for trial ``number``'s run."""
        return []

    def update(self, sweep) -> None:
        """A trial started, reported an epoch or ended: ``sweep.rows()`` has changed."""

    def finish(self, sweep) -> None:
        """The sweep ended (``sweep.status``): show the final state."""


class Reporter(Callback):
    """Reports the metric to the Optuna trial after each epoch; asks the run to stop when pruned."""

    def __init__(self, trial, metric: str, direction: str, prune: bool, on_epoch=None, info: dict | None = None):
        self.trial, self.metric, self.direction, self.prune = trial, metric, direction, prune
        self.on_epoch, self.info = on_epoch, info or {}
        self.values: list = []
        self.pruned_at: int | None = None

    @property
    def best(self) -> float | None:
        return best_of(self.values, self.direction)

    def on_fit_start(self, run, **kw):
        run.config["sweep"] = dict(self.info)  # which sweep and trial this run belongs to

    def on_epoch_end(self, run, epoch, logs, **kw):
        value = logs.get(self.metric)
        if isinstance(value, float) and math.isfinite(value):
            self.values.append(value)
            self.trial.report(value, step=int(epoch))
            if self.prune and self.pruned_at is None and self.trial.should_prune():
                self.pruned_at = int(epoch)
                pruner = type(self.trial.study.pruner).__name__
                run.request_stop(f"pruned by {pruner} at epoch {int(epoch)}")
        if self.on_epoch is not None:
            self.on_epoch()


def direction_of(metric: str) -> str:
    """maximize for accuracy, f1, auc, r2...; minimize for losses and errors."""
    base = metric.removeprefix("val_").removeprefix("train_")
    return "maximize" if HIGHER_IS_BETTER.get(base, False) else "minimize"


def preflight(kwargs: dict, *, trials, metric, sampler, direction=None) -> tuple:
    """Every check before the first trial; returns ``(spaces, metric, direction)``.

    One prepare with a value from each space says which columns every run's history will have, so
    a metric no run will have is an error now, not twenty failed trials later.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"trials must be a positive integer, got {trials!r}; e.g. trials=20.")
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}.")
    spaces = find_spaces(kwargs)
    if not spaces or all(s.size == 1 for s in spaces.values()):
        raise ConfigError(
            "the sweep has nothing to search: give at least one value as a search space, e.g. "
            "lr = nbtrain.loguniform(1e-4, 1e-1) or model = nbtrain.choice(['mlp(32)', 'mlp(64, 64)'])."
        )
    if sampler == "grid":
        for s in spaces.values():
            s.grid()  # raises for a continuous space
    for key in ("checkpoint", "resume", "processes"):
        if kwargs.get(key):
            raise ConfigError(f"{key} is not supported in a sweep: every trial trains once, in this process.")
    sample = substitute(kwargs, {k: s.example() for k, s in spaces.items()})
    declared = {k: v for k, v in sample.items() if k in PREPARE}
    if declared.get("lr") == "auto":
        declared["lr"] = None
    run, _job = prepare(**declared, name="sweep-check")
    columns = {"train_loss", "lr", "time"}
    if "val" in run._splits:
        columns |= {"val_loss"} | {f"val_{m}" for m in run.config["metrics"]}
    metric = metric or run.config["monitor"]
    if not isinstance(metric, str) or metric not in columns:
        hint = f" (did you mean val_{metric}?)" if isinstance(metric, str) and f"val_{metric}" in columns else ""
        raise ConfigError(
            f"metric {metric!r} is not a column any run of this sweep will have{hint}; "
            f"they record {', '.join(sorted(columns))}."
        )
    direction = direction or direction_of(metric)
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"direction must be 'maximize' or 'minimize', got {direction!r}.")
    return spaces, metric, direction


def run_sweep(
    train, kwargs: dict, spaces: dict, *, name, trials, metric, direction, sampler="tpe", seed=0, prune=False,
    backend=(None, None), observer: SweepObserver | None = None,
) -> Sweep:  # fmt: skip
    """Run up to ``trials`` trials (counted over every worker of the study) and return the :class:`Sweep`.

    ``backend`` is ``storage_for(path)``: the Optuna storage (None: in memory) and the workers' lock.
    """
    op = optuna()
    observer = observer or SweepObserver()
    store, lock = backend
    lock = lock if lock is not None else contextlib.nullcontext()
    grid = {k: s.grid() for k, s in spaces.items()} if sampler == "grid" else None
    verbosity = op.logging.get_verbosity()
    op.logging.set_verbosity(op.logging.WARNING)  # Optuna's per-trial log lines would go to stderr
    try:
        with lock:  # the first worker creates the study, the others load it
            study = open_study(name, store, direction, pruner_for(prune))
        sweep = Sweep(name, study, metric=metric, direction=direction, spaces=spaces, sampler=sampler)
        observer.start(sweep)
        while sweep.status == "running":
            trial = None
            if observer.should_stop(sweep):
                sweep.status = "stopped"
                break
            try:
                trial = ask(study, lock, sampler, seed, grid, trials)
                if trial is None:
                    sweep.status = "completed"
                    break
                trial = _run_trial(train, sweep, trial, kwargs, prune, observer)
            except KeyboardInterrupt:
                if trial is not None:  # asked but not told yet
                    try:
                        requeue(study, trial, "interrupted (KeyboardInterrupt)")
                    except (RuntimeError, ValueError):
                        pass  # it was told just before the interrupt
                sweep.status = "stopped"
            observer.update(sweep)
        observer.finish(sweep)
    finally:
        op.logging.set_verbosity(verbosity)
    return sweep


def _run_trial(train, sweep: Sweep, trial, kwargs: dict, prune, observer: SweepObserver):
    """Train one trial and tell Optuna how it ended; returns None once told (the trial is done)."""
    from optuna.trial import TrialState

    study, number = sweep.study, trial.number
    values = {k: s.suggest(trial, k) for k, s in sweep.spaces.items()}
    call = substitute(kwargs, values)
    if call.get("monitor") is None:  # the run's best epoch is the sweep's: one "best" in every view
        call["monitor"] = sweep.metric
    run_name = f"{sweep.name}/{number}"
    mark(trial, run=run_name, epochs=int(call.get("epochs", 10)))
    info = {"name": sweep.name, "trial": number, "params": dict(trial.params)}
    reporter = Reporter(trial, sweep.metric, sweep.direction, bool(prune), lambda: observer.update(sweep), info)
    # the reporter first: it writes run.config["sweep"] at fit start, before loggers read the settings
    callbacks = [reporter] + list(call.pop("callbacks", None) or ()) + observer.trial_callbacks(sweep, number)
    observer.update(sweep)
    try:
        run = train(**call, name=run_name, callbacks=callbacks, display="none")
    except NbtrainError as exc:
        return _fail(study, trial, str(exc))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the user's model or loss raised: this trial fails, the sweep goes on
        return _fail(study, trial, quote(exc))
    sweep.runs[number] = run
    if reporter.pruned_at is not None:
        mark(trial, reason=run.stop_reason or "pruned")
        study.tell(trial, state=TrialState.PRUNED)
    elif run.status == "stopped":
        requeue(study, trial, run.stop_reason or "stopped")
        sweep.status = "stopped"
    elif run.status == "failed":
        return _fail(study, trial, run.error or "the run failed")
    elif reporter.best is None:
        return _fail(study, trial, f"no epoch recorded {sweep.metric}")
    else:
        if run.note:
            mark(trial, reason=run.note)
        study.tell(trial, trial_value(run, sweep.metric, reporter.best))
    return None


def trial_value(run, metric: str, fallback: float | None) -> float | None:
    """A completed trial's value: ``metric`` at its run's best epoch (:func:`~nbtrain.core.history.run_best`,
    the epoch its repr, table and record name), so the sweep table, ``best_value`` and the run agree."""
    best = run_best(run)
    row = next((r for r in run.history if best is not None and r.get("epoch") == best.epoch), {})
    value = row.get(metric)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else fallback


def _fail(study, trial, reason: str):
    from optuna.trial import TrialState

    mark(trial, reason=reason)
    study.tell(trial, state=TrialState.FAIL)
    return None
