"""Run (the result of a training call) and the session's registry of runs."""

from __future__ import annotations

import os
import time
from collections import OrderedDict

import numpy as np
import torch

from . import new_inputs, targets
from .batch import first, rows
from .errors import ConfigError, DataError
from .evaluation import decide, decoded, forward_all, split_metrics
from .history import History, best_row, run_repr
from .lm import evaluate as evaluate_lm
from .lm import refuse_lm
from .loop import Live
from .metrics import DEFAULT_EVAL, parse_metrics
from .sparse import sparse_layout
from .store import runs as runstore
from .store.runs import DEFAULT_PATH, RunStore
from .store.stored import StoredRun, summary_row, when_text
from .tensor_batches import TensorBatches

STATUSES = ("pending", "running", "completed", "stopped", "failed")


class Run:
    """One training run: its model, history, fitted preprocessing, label encoding and config.

    >>> run = nbtrain.train(load_iris(return_X_y=True), model="mlp(32)", epochs=5)  # doctest: +SKIP
    >>> run.evaluate()["accuracy"]                                                   # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        model: torch.nn.Module,
        *,
        task: str,
        config: dict,
        preprocess=None,
        codec=None,
        history: History | None = None,
    ):
        self.name = name
        self.model = model
        self.task = task
        self.config = config
        self.preprocess = preprocess
        self.codec = codec
        self.history = history if history is not None else History()
        self.tokenizer = None  # tokenizer=: predict on raw texts (core/texts.py); saved with the run
        self.status = "pending"
        self.error: str | None = None
        self.note: str | None = None
        self.best_epoch: int | None = None
        self.started = time.time()  # when the run was made (just before it trains): %runs' "when"
        self.hints: list = []  # measured suggestions of the loop (Callback.on_hint), in order
        self.evaluations: dict = {}  # split -> the metrics last computed on it (kept by the run store)
        self.listeners: list = []  # callbacks told of evaluate() (Callback.on_evaluate): loggers
        self._store = None  # the RunStore that keeps this run, once it is written
        self.live = Live()
        self._stop = False
        self._stop_reason: str | None = None
        self._splits: dict = {}
        self._precision = None
        self._device = torch.device("cpu")
        self._eval_batch = 1024

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["listeners"] = []  # callbacks (a logger's open writer) stay in this process; ranks get none
        return state

    # ------------------------------------------------------------------ stopping
    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def stop_reason(self) -> str | None:
        """Why the run was asked to stop (the first request wins), or None."""
        return self._stop_reason

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the loop to stop at the next batch boundary.  The only way anything outside ``Run``
        stops a run: the Stop button, a KeyboardInterrupt, a distributed rank, a sweep's pruner."""
        self._stop_reason = self._stop_reason or reason
        self._stop = True

    # ------------------------------------------------------------------ facts
    @property
    def classes(self):
        return None if self.codec is None else self.codec.classes

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def best(self, monitor: str | None = None) -> dict:
        """The history row of the best epoch: the one whose weights early stopping kept, else the best
        value of ``monitor`` (default: the run's monitor, val_loss, else train_loss)."""
        return best_row(self, monitor)

    def __repr__(self) -> str:
        return run_repr(self, "Run")

    def release(self, collect: bool = True) -> None:
        """Drop this run's data splits (the shared copy goes when no run holds it) and empty the CUDA
        cache; ``evaluate`` then says so.  ``del nbtrain.runs[name]`` calls it.  ``collect=False`` skips
        the garbage collection (about a second with torch loaded: too much per scikit-learn ``fit``)."""
        import gc

        self._splits = {}
        self._released = True
        self.live.release()
        if collect:
            gc.collect()  # views and engine frames can hold the splits in reference cycles
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ inference
    def _batches_for(self, on: str):
        if on not in ("train", "val", "test"):
            raise ConfigError(f"on must be 'train', 'val' or 'test', got {on!r}.")
        if on not in self._splits:
            if getattr(self, "_released", False):
                raise DataError(f"run {self.name!r} was deleted from nbtrain.runs and its data splits freed.")
            if not self._splits:
                raise DataError(
                    f"run {self.name!r} was loaded from a file and holds no data splits; use run.predict(X)."
                )
            raise DataError(f"run {self.name!r} has no {on} split; train with {on}=0.2 or {on}_data=(X, y).")
        return self._splits[on]

    @property
    def target_kind(self) -> str:
        """What a target is: "label", "multihot", "positions" or "values" (see ``core/targets.py``)."""
        default = "values" if self.task == "regression" else "label"
        return self.config.get("target_kind") or default

    def _forward(self, on: str):
        """Outputs and targets on a split (per-position targets: the labelled positions); a Dataset's
        loader workers end with the pass (a finished run keeps no processes)."""
        batches = self._batches_for(on)
        positions = self.codec.n_classes if self.target_kind == targets.POSITIONS else 0
        try:
            if positions:
                return forward_all(self.model, batches, self._precision, positions=positions)
            return forward_all(self.model, batches, self._precision)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def predictions(self, on: str = "test", data=None) -> dict:
        """Targets and predictions on a split (or on labelled ``data=(X, y)``), decoded:
        {'y_true', 'y_pred', 'scores'}."""
        refuse_lm(self)  # a causal language model has no labels to predict
        if data is not None:
            from .score import predictions_on

            return predictions_on(self, data)
        outputs, y = self._forward(on)
        kind, n_classes = self.target_kind, (self.codec.n_classes if self.codec is not None else 0)
        pred, scores = decide(outputs, self.task, kind, n_classes)
        y = y.cpu().numpy()
        if kind == targets.MULTIHOT:
            return {"y_true": y.astype(int), "y_pred": pred, "scores": scores, "classes": self.codec.classes}
        return decoded(self.codec, self.task, y, pred, scores)

    def evaluate(self, on: str = "test", metrics=None, data=None) -> dict:
        """Metrics on a split (default: the test split) as a dict of floats; ``data=(X, y)`` scores new
        labelled data instead (the run's preprocessing, labels in the data's own type)."""
        if data is not None:
            from .score import evaluate_on

            return evaluate_on(self, data, metrics)
        if self.config.get("lm"):  # a causal language model: perplexity over the labelled tokens
            return self._evaluated(on, evaluate_lm(self, on, metrics))
        kind = self.target_kind
        images = self.config.get("target_ndim", 1) >= 3
        names = parse_metrics(metrics, self.task, default=DEFAULT_EVAL, kind=kind, images=images)
        outputs, y = self._forward(on)
        n_classes = self.codec.n_classes if self.codec is not None else 0
        values = split_metrics(outputs, y, names, self.task, n_classes, kind)
        if kind == targets.POSITIONS and "iou" in names:  # and each class's own
            pred, _ = decide(outputs, self.task, kind, n_classes)
            values.update(targets.class_iou(y.cpu().numpy(), pred, self.codec.classes))
        return self._evaluated(on, values)

    def _evaluated(self, on: str, values: dict) -> dict:
        """Keep a split's metrics (the run store writes them), and tell the listeners."""
        self.evaluations.setdefault(on, {}).update(values)
        if self._store is not None:  # so that %evaluate NAME shows them in a later kernel
            self._store.record(self)
        for cb in self.listeners:
            cb.on_evaluate(self, on=on, metrics=dict(values))
        return values

    def _features(self, X):
        """New inputs as the model was trained on them: preprocessed, the dtype rule, on the device."""
        return new_inputs.features_for(self, X)

    def _outputs(self, X):
        refuse_lm(self)
        x = self._features(X)
        dummy = torch.zeros(rows(x), device=first(x).device)
        batches = TensorBatches(x, dummy, self._eval_batch, torch.Generator(), layout=sparse_layout(self.model))
        outputs, _ = forward_all(self.model, batches, self._precision)
        return outputs

    def predict(self, X) -> np.ndarray:
        """Predictions for new features: class labels in the data's own label type, or values."""
        kind = self.target_kind
        pred, _ = decide(self._outputs(X), self.task, kind, self.codec.n_classes if self.codec is not None else 0)
        if kind == targets.MULTIHOT:
            return pred  # 0/1 rows, one column per class
        if self.task == "classification":
            return self.codec.decode(pred)
        return pred.reshape(-1) if self.config.get("target_ndim", 1) == 1 else pred

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one column per class in ``run.classes`` order."""
        if self.task != "classification":
            raise ConfigError("predict_proba is for classification runs; use predict for regression.")
        _, scores = decide(self._outputs(X), self.task, self.target_kind, self.codec.n_classes)
        return scores

    def explain(self, on: str = "test", data=None, tokenizer=None):
        """Why the run decides: an :class:`~nbtrain.core.explain.Explanation` of a split (or of
        ``data=(X, y)``) with ``top_losses``, ``most_confused``, ``importance`` and ``attribute``
        (``tokenizer``: reads token ids back as text; default ``run.tokenizer``, where it has one).

        >>> run.explain(on="test").most_confused()       # doctest: +SKIP
        """
        from .explain import explain

        return explain(self, on=on, data=data, tokenizer=tokenizer)

    def save(self, path) -> str:
        """Save weights, preprocessing, label encoding, config and history (see nbtrain.load)."""
        from .store import save_run

        return save_run(self, path)

    def summary(self) -> dict:
        """One row for a runs table ("when": when it started; "test": its test metric)."""
        return summary_row(self, when_text(self.started))


class RunRegistry(OrderedDict):
    """This session's runs by name (``nbtrain.runs``), backed by the run store: a finished run is
    written there (:meth:`keep`), and :meth:`listing` and :meth:`find` reach the runs of earlier sessions.

    >>> nbtrain.runs.listing()       # doctest: +SKIP
    [StoredRun('iris~1', completed, 20/20 epochs, 2026-12-01 10:00), Run('iris', completed, 20/20 epochs)]
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setting = ""  # "": NBTRAIN_STORE, else .nbtrain/runs; None: off; else a folder
        self._stores: dict = {}  # one RunStore per folder: each warns once
        # nbtrain.loggers.export.export, handed in by nbtrain/__init__.py (core never imports a logger)
        self.exporter = None

    def next_name(self) -> str:
        i = 1
        while f"run{i}" in self:
            i += 1
        return f"run{i}"

    def __delitem__(self, name) -> None:
        """``del nbtrain.runs[name]``: the run leaves this session and its data splits are freed (and
        the CUDA cache emptied); its stored copy, history and weights stay where they are."""
        run = self[name]
        super().__delitem__(name)
        if isinstance(run, Run):
            run.release()

    def register(self, run: Run) -> Run:
        """Add ``run`` under its name; a run under an existing name replaces it, at the end of the order."""
        self.pop(run.name, None)
        self[run.name] = run
        return run

    # ------------------------------------------------------------------ the run store
    def use_store(self, store) -> None:
        """Keep finished runs in folder ``store``; None turns the store off, "" restores the default."""
        self._setting = store if store is None or store == "" else os.path.abspath(os.path.expanduser(store))

    @property
    def store(self) -> RunStore | None:
        """The run store in use, or None when it is off."""
        setting = self._setting
        if setting == "":
            env = os.environ.get("NBTRAIN_STORE")
            setting = DEFAULT_PATH if env is None else (env or None)  # NBTRAIN_STORE="" turns it off
        if setting is None:
            return None
        path = os.path.abspath(os.path.expanduser(setting))
        if path not in self._stores:
            self._stores[path] = RunStore(path)
        return self._stores[path]

    def keep(self, run) -> None:
        """Write a run that has ended to the run store.  Never raises (see ``RunStore.put``)."""
        store = self.store
        if store is not None and run is not None:
            store.put(run)

    def _labelled(self):
        """(label, entry) for every stored run, newest first under each name: the newest stored run
        of a name is ``name``, older ones ``name~1``, ``name~2``; a run of this session under that name
        is the newest (its own entry, once written, is ``name``)."""
        store = self.store
        groups: dict = {}
        for e in store.entries() if store is not None else []:
            groups.setdefault(e["name"], []).append(e)
        out = []
        for name, es in groups.items():
            live = name in self
            own = [e for e in es if live and e["session"] == runstore.SESSION]
            older = sorted((e for e in es if e not in own), key=lambda e: e["time"], reverse=True)
            out += [(name, e) for e in own]
            out += [(name if k == 0 else f"{name}~{k}", e) for k, e in enumerate(older, start=int(live))]
        return out, store

    def listing(self) -> list:
        """Runs of earlier sessions (read from the store, oldest first), then this session's runs."""
        labelled, store = self._labelled()
        stored = [StoredRun(e, label, store) for label, e in labelled if not (e["name"] in self and label == e["name"])]
        return sorted(stored, key=lambda r: r.time) + list(self.values())

    def stored(self, name: str) -> StoredRun | None:
        """The stored run called ``name`` (also this session's own copy of a run), or None."""
        labelled, store = self._labelled()
        return next((StoredRun(e, label, store) for label, e in labelled if label == name), None)

    def find(self, name: str):
        """The run called ``name``: one of this session's, else a stored one (``name~1``, ...), else None."""
        return self[name] if name in self else self.stored(name)

    def export(self, to: str, *names: str, **options) -> list:
        """Write runs to TensorBoard, MLflow or CSV afterwards (``to``: "tensorboard", "mlflow", "csv"),
        with the logger's ``options``; ``names`` as ``%runs`` shows them (default: every run listed).
        Returns the names written.

        >>> nbtrain.runs.export("mlflow", "iris", "iris~1", tracking_uri="sqlite:///mlflow.db")   # doctest: +SKIP
        """
        chosen = []
        for name in names or [r.name for r in self.listing()]:
            found = self.find(name)
            if found is None:
                known = ", ".join(r.name for r in self.listing()) or "none"
                raise ConfigError(f"no run named {name!r} to export; the runs are {known}.")
            chosen.append(found)
        if self.exporter is None:  # pragma: no cover - set by nbtrain/__init__.py
            raise ConfigError("exporting needs nbtrain.loggers; import nbtrain first.")
        return self.exporter(to, chosen, **options)

    def __repr__(self) -> str:
        if not self:
            return "runs: none yet"
        return "runs:\n" + "\n".join(f"  {r!r}" for r in self.values())


runs = RunRegistry()
