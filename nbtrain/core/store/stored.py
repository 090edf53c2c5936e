"""Runs read back from the run store (:class:`StoredRun`) and the one ``%runs`` row of any run.

>>> old = nbtrain.runs.find("iris~1")          # doctest: +SKIP
>>> old.when, old.summary()["test"]            # doctest: +SKIP
('2026-12-01 10:00', 'accuracy=0.9667')
"""

from __future__ import annotations

import math
from datetime import datetime

from ..errors import DataError
from ..history import History

_TEST_MAIN = ("accuracy", "r2", "f1", "auc", "mse", "mae")


def summary_row(run, when: str = "") -> dict:
    """One row of ``%runs`` for a live or a stored run (``Run.summary``)."""
    best = run.best()
    main = next((k for k in ("val_accuracy", "val_r2", "val_f1", "val_loss") if k in best), None)
    test = getattr(run, "evaluations", {}).get("test", {})
    tkey = next((k for k in _TEST_MAIN if k in test), next(iter(test), None))
    c = run.config
    return {
        "name": run.name,
        "when": when,
        "model": c.get("model"),
        "loss": c.get("loss"),
        "optimizer": c.get("optimizer"),
        "epochs": f"{len(run.history)}/{c.get('epochs')}",
        "status": run.status,
        "best": (f"{main}={best[main]:.4g}" if main else ""),
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
        self.when = datetime.fromtimestamp(entry["time"]).strftime("%Y-%m-%d %H:%M")
        self.file, self.unsaved = store.file(entry), entry.get("unsaved")
        self.store = store

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def best(self, monitor: str | None = None) -> dict:
        e = self.history.best_epoch(monitor)
        return next((r for r in self.history if r.get("epoch") == e), {})

    def summary(self) -> dict:
        return summary_row(self, self.when)

    def evaluate(self, on: str = "test", metrics=None) -> dict:
        """The metrics saved when this run was evaluated in its session (nothing is recomputed)."""
        from ..metrics import parse_metrics

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
            f"load it first: run = nbtrain.load({self.name!r}), then run.predict(X)."
        )

    predict = predict_proba = predictions = _no_data

    def __repr__(self) -> str:
        epochs = f"{len(self.history)}/{self.config.get('epochs')} epochs"
        return f"StoredRun({self.name!r}, {self.status}, {epochs}, {self.when})"
