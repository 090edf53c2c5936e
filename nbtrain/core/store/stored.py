"""Runs read back from the run store (:class:`StoredRun`) and the one ``%runs`` row of any run.

>>> old = nbtrain.runs.find("iris~1")          # doctest: +SKIP
>>> old.when, old.summary()["test"]            # doctest: +SKIP
('2026-12-01 10:00', 'accuracy=0.9667')
"""

from __future__ import annotations

import math
from datetime import datetime

from ..errors import DataError
from ..finetune import params_text
from ..history import History, best_row, run_best, run_repr, shown_value

_TEST_MAIN = ("accuracy", "r2", "f1", "auc", "mse", "mae")


def when_text(seconds: float | None) -> str:
    """``2026-12-01 10:00``: when a run started (local time), as ``%runs`` shows it."""
    return "" if seconds is None else datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def summary_row(run, when: str = "") -> dict:
    """One row of ``%runs`` for a live or a stored run (``Run.summary``)."""
    b = run_best(run)
    shown = shown_value(b, run.best()) if b is not None else None
    test = getattr(run, "evaluations", {}).get("test", {})
    tkey = next((k for k in _TEST_MAIN if k in test), next(iter(test), None))
    c = run.config
    return {
        "name": run.name,
        "when": when,
        "model": c.get("model"),
        "params": params_text(c),
        "loss": c.get("loss"),
        "optimizer": c.get("optimizer_spec") or c.get("optimizer"),
        "epochs": f"{len(run.history)}/{c.get('epochs')}",
        "status": run.status,
        "best": (f"{shown[0]}={shown[1]:.4g} (epoch {b.epoch})" if shown else ""),
        "test": (f"{tkey}={test[tkey]:.4g}" if tkey else ""),
        "time": sum(v for v in run.history["time"] if not math.isnan(v)) if "time" in run.history else 0.0,
    }


class StoredRun:
    """A run read back from the run store: name, when, config, history, status and saved metrics, no
    model.  ``nbtrain.load(name)`` rebuilds the full :class:`Run` (weights and preprocessing).

    >>> old = nbtrain.runs.find("iris_mlp~1")          # doctest: +SKIP
    >>> old.when, old.evaluate()                       # doctest: +SKIP
    ('2026-12-01 10:00', {'accuracy': 0.96, ...})
    """

    model = None

    def __init__(self, entry: dict, label: str, store):
        self.name, self.stored_name = label, entry["name"]
        self.task, self.config, self.status = entry["task"], entry["config"], entry["status"]
        self.note, self.error, self.best_epoch = entry.get("note"), entry.get("error"), entry.get("best_epoch")
        self.history = History(entry["history"])
        self.evaluations = {k: dict(v) for k, v in entry["evaluations"].items()}
        self.session, self.time = entry["session"], entry["time"]
        started = entry.get("started")
        self.when = when_text(started if isinstance(started, (int, float)) else entry["time"])
        self.file, self.unsaved = store.file(entry), entry.get("unsaved")
        self.store = store

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def best(self, monitor: str | None = None) -> dict:
        return best_row(self, monitor)

    def summary(self) -> dict:
        return summary_row(self, self.when)

    def evaluate(self, on: str = "test", metrics=None, data=None) -> dict:
        """The metrics saved when this run was evaluated in its session (nothing is recomputed)."""
        from ..metrics import parse_metrics

        if data is not None:
            self._no_data()

        saved = self.evaluations.get(on)
        if not saved:
            raise DataError(
                f"run {self.name!r} comes from the run store ({self.when}) and was not evaluated on its {on} split "
                f"in its session, so there are no {on} metrics to show; stored runs hold no data to evaluate on."
            )
        if metrics is None:
            return dict(saved)
        kind = (self.config or {}).get("target_kind") or "label"
        names = parse_metrics(metrics, self.task, kind=kind)  # multi-hot / per-position runs: their metrics
        missing = [n for n in names if n not in saved]
        if missing:
            raise DataError(
                f"run {self.name!r} comes from the run store and its saved {on} metrics are {', '.join(saved)}; "
                f"{', '.join(missing)} cannot be computed without its data."
            )
        return {n: saved[n] for n in names}

    def _no_data(self, *args, **kwargs):
        raise DataError(
            f"run {self.name!r} comes from the run store and holds no model or data here; "
            f"load it first: run = nbtrain.load({self.name!r}), then run.predict(X) or run.evaluate(data=(X, y)) "
            f"(%predict and %evaluate --data load it themselves)."
        )

    predict = predict_proba = predictions = _no_data

    def __repr__(self) -> str:
        return run_repr(self, "StoredRun", f", {self.when}")
