"""What a sweep holds and shows: one row per trial, read from the Optuna study (the one source of
truth, also for trials that other workers ran), the best trial, and the parameter importances."""

from __future__ import annotations

import math
from dataclasses import dataclass

STATUS = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


@dataclass
class TrialRow:
    """One trial of a sweep, as the leaderboard shows it."""

    number: int
    params: dict  # what Optuna stored: numbers and strings (labels for modules and classes)
    value: float | None  # the best value of the metric over the trial's epochs
    epochs: int  # epochs that reported the metric
    max_epochs: int | None
    status: str  # completed | pruned | failed | stopped | running
    reason: str
    run: str | None  # the Run's name in nbtrain.runs: "<sweep>/<number>"
    seconds: float | None


def best_of(values, direction: str) -> float | None:
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return None
    return max(values) if direction == "maximize" else min(values)


class Sweep:
    """The result of ``nbtrain.sweep`` / ``%%sweep``: the study, the trials' runs and the best one.

    >>> s = nbtrain.sweep(data, lr=nbtrain.loguniform(1e-4, 1e-1), trials=10, metric="val_accuracy")  # doctest: +SKIP
    >>> s.best_params, s.best_value, s.best_run                                                       # doctest: +SKIP
    """

    def __init__(self, name: str, study, *, metric: str, direction: str, spaces: dict, sampler: str):
        self.name, self.study, self.metric, self.direction = name, study, metric, direction
        self.spaces, self.sampler = spaces, sampler
        self.runs: dict = {}  # trial number -> Run, for the trials this process ran
        self.status = "running"  # then "completed" (budget or grid used up) or "stopped"

    # ------------------------------------------------------------------ trials
    def rows(self) -> list:
        """Every trial of the study (queued ones left out), in trial order."""
        out = []
        for t in self.study.get_trials(deepcopy=False):
            status = STATUS.get(t.state.name, t.state.name.lower())
            if status == "waiting":
                continue
            attrs = t.user_attrs
            status = attrs.get("nbtrain_status", status) if status == "failed" else status
            value = t.value if status == "completed" else best_of(t.intermediate_values.values(), self.direction)
            took = None
            if t.datetime_start is not None and t.datetime_complete is not None:
                took = (t.datetime_complete - t.datetime_start).total_seconds()
            out.append(
                TrialRow(
                    number=t.number,
                    params=dict(t.params),
                    value=value,
                    epochs=len(t.intermediate_values),
                    max_epochs=attrs.get("nbtrain_epochs"),
                    status=status,
                    reason=attrs.get("nbtrain_reason", ""),
                    run=attrs.get("nbtrain_run"),
                    seconds=took,
                )
            )
        return out

    def counts(self) -> dict:
        out: dict = {}
        for r in self.rows():
            out[r.status] = out.get(r.status, 0) + 1
        return out

    # ------------------------------------------------------------------ the best trial
    @property
    def best(self) -> TrialRow | None:
        """The completed trial with the best value (the first of equals), or None."""
        done = [r for r in self.rows() if r.status == "completed" and r.value is not None]
        if not done:
            return None
        if self.direction == "maximize":
            return max(done, key=lambda r: (r.value, -r.number))
        return min(done, key=lambda r: (r.value, r.number))

    @property
    def best_value(self) -> float | None:
        b = self.best
        return None if b is None else b.value

    @property
    def best_params(self) -> dict:
        """The best trial's values as ``train`` took them (modules and classes, not their labels)."""
        b = self.best
        if b is None:
            return {}
        out = {}
        for k, v in b.params.items():
            space = self.spaces.get(k)
            out[k] = space.value_of(v) if hasattr(space, "value_of") else v
        return out

    @property
    def best_run(self):
        """The best trial's Run (None when another worker ran it)."""
        b = self.best
        return None if b is None else self.runs.get(b.number)

    def importances(self) -> dict:
        """Optuna's parameter importances (its default evaluator) over the completed trials; {} with too few."""
        from optuna.importance import get_param_importances
        from optuna.trial import TrialState

        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(done) < 2 or not any(t.params for t in done):
            return {}
        try:
            return dict(get_param_importances(self.study))
        except (RuntimeError, ValueError, ZeroDivisionError):
            return {}  # e.g. every completed trial had the same parameters

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items()) or "no trials"
        b = self.best
        best = f"; best {self.metric}={b.value:.4g} (trial {b.number})" if b is not None else ""
        return f"Sweep({self.name!r}, {self.status}: {counts}{best})"
