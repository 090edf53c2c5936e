"""Why a run decides: its highest-loss rows, the classes it confuses, which inputs matter, attributions.

``run.explain(on="test")`` makes one evaluation pass over the split and keeps its outputs; top losses
and confusion pairs are read from that pass, permutation importance (scikit-learn's
``permutation_importance``, the run as its estimator) and attributions (captum, :mod:`.attribution`)
compute more on demand.

>>> ex = run.explain(on="test")                    # doctest: +SKIP
>>> ex.top_losses(3)                               # doctest: +SKIP
   index  target  prediction  probability      loss
0     17  versicolor  virginica     0.81       1.93
>>> ex.most_confused()                             # doctest: +SKIP
[('versicolor', 'virginica', 2)]
"""

from __future__ import annotations

import numpy as np
import torch

from .declared import CLASSIFICATION
from .errors import ConfigError, DataError, DataTypeError, ExplainError, quote
from .evaluation import decide
from .explain_data import DatasetRows, split_inputs, structured, take
from .forms import is_dataframe as _is_dataframe
from .forms import is_dataset
from .metrics import HIGHER_IS_BETTER, KNOWN, compute
from .progress import ticker
from .sources import Context, adapt


def pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ExplainError(
            "run.explain returns pandas DataFrames; install pandas: pip install 'nbtrain[explain]'."
        ) from None
    return pd


def explain(run, on: str = "test", data=None, tokenizer=None) -> Explanation:
    """The :class:`Explanation` of ``run`` on a split (``on``) or on ``data=(X, y)`` (also a DataFrame
    with the run's target column).  ``tokenizer``: reads token ids back as text (default: the run's own,
    ``run.tokenizer``, where it has one)."""
    kind = run.target_kind
    if kind not in ("label", "values"):
        raise ExplainError(
            f"explain covers runs with one label or value(s) a row; run {run.name!r} has {kind} targets."
        )
    if tokenizer is None:
        tokenizer = getattr(run, "tokenizer", None)
    if data is not None:
        if is_dataset(data):
            raise DataTypeError("explain takes in-memory data=(X, y) (arrays, tensors or a DataFrame), not a Dataset.")
        table = adapt(data, Context(target=run.config.get("target")))
        outputs = run._outputs(table.X)
        targets = _encode(run, table.y)
        return Explanation(run, table.X, table.y, outputs, targets, on="data", tokenizer=tokenizer)
    if not run._splits and not getattr(run, "_released", False):
        raise DataError(
            f"run {run.name!r} holds no data splits (it was loaded from a file); give the rows to explain: "
            f"run.explain(data=(X_test, y_test))."
        )
    inputs, declared, rows = split_inputs(run, on)
    outputs, targets = run._forward(on)
    if declared is None:  # a Dataset split: its targets as the evaluation pass read them
        declared = _decode(run, targets)
    ex = Explanation(run, inputs, declared, outputs, targets, on=on, rows=rows, tokenizer=tokenizer)
    if isinstance(inputs, DatasetRows):
        ex._loader = run._batches_for(on)
    return ex


def _decode(run, encoded: torch.Tensor) -> np.ndarray:
    y = encoded.detach().cpu().numpy()
    return run.codec.decode(y) if run.task == CLASSIFICATION else y


def _encode(run, y) -> torch.Tensor:
    if run.task == CLASSIFICATION:
        return torch.from_numpy(run.codec.encode(np.asarray(y), "explain labels"))
    return torch.from_numpy(np.asarray(y, dtype=np.float32))


def row_losses(loss_fn, outputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """The run's own loss of every row: ``loss_fn`` on one row at a time (vectorised with
    ``torch.func.vmap`` where the loss allows it, else a loop)."""
    outputs, targets = outputs.float(), targets

    def one(o, t):
        return loss_fn(o.unsqueeze(0), t.unsqueeze(0))

    with torch.no_grad():
        try:
            losses = torch.func.vmap(one)(outputs, targets)
            if losses.shape == (len(targets),):
                return losses.cpu().numpy()
        except Exception:  # a loss vmap cannot trace (a .item(), an in-place op): the plain loop below
            pass
        try:
            return torch.stack([one(outputs[i], targets[i]).reshape(()) for i in range(len(targets))]).cpu().numpy()
        except Exception as exc:  # the user's own loss, on one row: name it
            raise ExplainError(
                f"the run's loss failed on a single row ({quote(exc)}); top_losses needs a loss that takes a batch "
                "of one row and returns a scalar."
            ) from None


class Explanation:
    """The outputs of a run on some rows, and what they say about its decisions.

    ``inputs`` and ``targets`` are the rows as they were declared (before preprocessing; ``rows``: their
    positions in the declared data, or None when they are all of it): an array, a DataFrame, a tuple or
    dict of arrays, or for a Dataset split a :class:`~nbtrain.core.explain_data.DatasetRows` view that
    reads items on demand (``take(idx)`` batches some rows of any of them); ``top_losses``,
    ``most_confused``, ``importance`` and ``attribute`` explain them.  ``tokenizer`` reads token ids as text.
    """

    def __init__(self, run, inputs, targets, outputs, encoded, *, on: str, rows=None, tokenizer=None):
        self.run, self.on, self.inputs, self.targets, self.rows = run, on, inputs, np.asarray(targets), rows
        self.tokenizer, self._loader = tokenizer, None
        self._outputs = outputs.detach().float().cpu()
        self._encoded = encoded.cpu()
        self.pred, self.scores = decide(self._outputs, run.task)
        self._losses = None

    def __len__(self) -> int:
        return len(self.targets)

    def __repr__(self) -> str:
        return f"Explanation({self.run.name!r}, on={self.on!r}, {len(self)} rows)"

    @property
    def classification(self) -> bool:
        return self.run.task == CLASSIFICATION

    @property
    def loss_name(self) -> str:
        """The loss ``top_losses`` reports: the run's own, or its preset rebuilt for a loaded run."""
        return self._loss_fn().name

    def _loss_fn(self):
        fn = getattr(self.run, "_loss", None)
        own = getattr(fn, "own", False)  # the model's own (output.loss): one number a batch, so its preset twin
        if fn is None or own:  # a loaded run: its preset loss from the config (a loss of your own cannot be rebuilt)
            from .losses import KNOWN as PRESETS
            from .losses import build_loss

            name = None if own else self.run.config.get("loss")
            if name not in PRESETS:
                name = "cross_entropy" if self.classification else "mse"
            n = self.run.codec.n_classes if self.run.codec is not None else 0
            fn = build_loss(name, n)
        return fn

    @property
    def losses(self) -> np.ndarray:
        """The run's loss of every row (in ``inputs`` order)."""
        if self._losses is None:
            self._losses = row_losses(self._loss_fn(), self._outputs, self._encoded)
        return self._losses

    @property
    def predictions(self) -> np.ndarray:
        """Predicted labels (the data's own) or values, one per row."""
        if self.classification:
            return self.run.codec.decode(self.pred)
        return self.pred.reshape(len(self), -1)[:, 0] if self.pred.ndim > 1 and self.pred.shape[1] == 1 else self.pred

    # ------------------------------------------------------------------ what one pass tells
    def top_losses(self, k: int = 9):
        """The ``k`` rows with the highest loss, highest first: a DataFrame with ``index`` (the row in
        ``inputs``), ``target``, ``prediction``, ``probability`` (of the prediction; classification only)
        and ``loss``."""
        pd = pandas()
        k = _positive(k, "k")
        order = np.argsort(-self.losses, kind="stable")[:k]
        cols = {"index": order, "target": _column(self.targets[order]), "prediction": _column(self.predictions[order])}
        if self.classification:
            cols["probability"] = self.scores[order, self.pred[order]]
        cols["loss"] = self.losses[order]
        return pd.DataFrame(cols)

    def confusion(self) -> np.ndarray:
        """The confusion matrix (rows: true class, columns: predicted, in ``run.classes`` order)."""
        from sklearn.metrics import confusion_matrix

        self._need_classes("the confusion matrix")
        labels = np.arange(self.run.codec.n_classes)
        return confusion_matrix(self._encoded.numpy(), self.pred, labels=labels)

    def most_confused(self, k: int = 5) -> list:
        """The ``k`` most frequent mistakes as ``(true, predicted, count)``, most frequent first."""
        self._need_classes("most_confused")
        k = _positive(k, "k")
        cm = self.confusion()
        np.fill_diagonal(cm, 0)
        t, p = np.nonzero(cm)
        order = np.lexsort((p, t, -cm[t, p]))[:k]  # by count, then by class order
        names = self.run.codec.classes
        return [(_item(names[t[i]]), _item(names[p[i]]), int(cm[t[i], p[i]])) for i in order]

    def _need_classes(self, what: str) -> None:
        if not self.classification:
            raise ExplainError(f"{what} is for classification runs; run {self.run.name!r} is a regression.")

    # ------------------------------------------------------------------ what costs more passes
    def importance(self, n_repeats: int = 5, metric: str | None = None, seed: int = 0, progress=True, columns=False):
        """Permutation importance of every input: how much ``metric`` worsens when it is shuffled between
        rows (scikit-learn's ``permutation_importance``, the run as its estimator, ``n_repeats`` shuffles
        each).  An input is a column of tabular data; an entry of several inputs (a tuple or dict, or a
        Dataset's items), named by its key (``columns=True``: every 2-D floating entry column by column).
        ``metric``: the run's monitored one (its loss by default).  A DataFrame with ``feature``,
        ``importance`` (mean worsening: positive means the input matters) and ``std``, most important
        first.  A progress line appears on stderr when it takes more than a second (``progress=False``:
        never; a callable: called as ``progress(done, total)`` instead)."""
        from sklearn.inspection import permutation_importance

        pd = pandas()
        X = self.inputs
        if structured(X):
            from .permute import StructuredEstimator, features_of, index_matrix

            feats = features_of(X, columns)
            estimator = StructuredEstimator(self.run, X, feats, self._loader)
            names, X = [f.name for f in feats], index_matrix(len(self), len(feats))
        elif not _is_dataframe(X) and np.asarray(X).dtype.kind in "iub" and self.run.config.get("int_inputs"):
            raise ExplainError(
                "importance shuffles inputs between rows, and this run has one input of token ids (its positions "
                "are not features); see which tokens matter with ex.attribute(x)."
            )
        elif not _is_dataframe(X) and np.ndim(X) != 2:
            raise ExplainError(
                f"importance shuffles the columns of tabular inputs; these inputs have shape {np.shape(X)}. "
                "For images or sequences, use ex.attribute(x)."
            )
        else:
            names = [str(c) for c in X.columns] if _is_dataframe(X) else [f"x{i}" for i in range(X.shape[1])]
            estimator = RunEstimator(self.run)
        name = self._metric(metric)
        what = "inputs" if structured(self.inputs) else "columns"
        line = ticker(
            progress, f"importance of {len(names)} {what}", 1 + len(names) * _positive(n_repeats, "n_repeats")
        )
        scorer = _Scorer(self, name, line)
        try:
            result = permutation_importance(
                estimator, X, self._encoded.numpy(), scoring=scorer, n_repeats=n_repeats, random_state=seed
            )
        finally:
            line.done()
        frame = pd.DataFrame({"feature": names, "importance": result.importances_mean, "std": result.importances_std})
        frame = frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
        frame.attrs["metric"] = name
        return frame

    def _metric(self, metric) -> str:
        if metric is None:
            monitor = str(self.run.config.get("monitor") or "loss")
            metric = monitor.removeprefix("val_").removeprefix("train_")
            return metric if metric in KNOWN else "loss"
        if metric != "loss" and metric not in KNOWN:
            raise ConfigError(f"metric must be 'loss' or one of {', '.join(KNOWN)}; got {metric!r}.")
        return metric

    def take(self, idx):
        """Rows ``idx`` of ``inputs`` (for a Dataset split: those items batched, as arrays)."""
        return take(self.inputs, idx)

    def attribute(
        self,
        x=None,
        method: str = "integrated_gradients",
        baseline=0.0,
        target=None,
        steps: int = 50,
        space="raw",
        progress=True,
        layer=None,
        tokenizer=None,
    ):
        """Attributions of the rows ``x`` (default: every row of ``inputs``), with the shape of ``x``, in
        the raw input space (through the fitted preprocessing), for the predicted class's logit unless
        ``target=`` names a class.  ``method``: ``"integrated_gradients"`` (the attributions of a row sum
        to its logit minus the baseline's; ``steps`` points on the path) or ``"saliency"`` (the absolute
        gradient).  ``space="features"``: to the preprocessed features instead (any preprocessing).
        Several inputs (a tuple or dict) get one attribution each, in ``x``'s structure; token ids are
        attributed through the embedding layer that reads them (``layer=``: its name, where the model
        has several), one number a token, the baseline being the padding id (of ``tokenizer``, default
        the explanation's).  ``progress``: as for :meth:`importance`.  Needs captum (``nbtrain[explain]``)."""
        if x is None:
            if isinstance(self.inputs, DatasetRows):
                raise ExplainError(
                    "a Dataset split is attributed some rows at a time: ex.attribute(ex.take([0, 1, 2]))."
                )
            x = self.inputs
        if structured(x) or (np.asarray(x).dtype.kind in "iub" and self.run.config.get("int_inputs")):
            from .attribution import check_arguments
            from .attribution_inputs import attribute_inputs
            from .tokens import Tokens, token_entry

            check_arguments(method, space, steps)
            tokens = Tokens.of(tokenizer if tokenizer is not None else self.tokenizer)
            entry = token_entry(x)
            return attribute_inputs(
                self.run, x, method=method, baseline=baseline, target=target, steps=steps, progress=progress,
                layer=layer, pad=None if tokens is None else tokens.pad, token_path=None if entry is None else entry[0],
            )  # fmt: skip
        from .attribution import attribute

        return attribute(
            self.run, x, method=method, baseline=baseline, target=target, steps=steps, space=space, progress=progress
        )


class RunEstimator:
    """A fitted run seen as a scikit-learn estimator (``predict``, ``predict_proba``; ``fit`` does nothing),
    for scikit-learn tools that score a fitted model such as ``permutation_importance``."""

    _estimator_type = "classifier"

    def __init__(self, run):
        self.run = run
        self._estimator_type = "classifier" if run.task == CLASSIFICATION else "regressor"

    def fit(self, X, y=None):
        return self

    def outputs(self, X) -> torch.Tensor:
        return self.run._outputs(X)

    def predict(self, X):
        return self.run.predict(X)

    def predict_proba(self, X):
        return self.run.predict_proba(X)


class _Scorer:
    """``scoring=`` for permutation_importance: higher is better (a loss or an error is negated)."""

    def __init__(self, ex: Explanation, metric: str, progress):
        self.ex, self.metric, self.progress, self.calls = ex, metric, progress, 0

    def __call__(self, estimator, X, y) -> float:
        out = estimator.outputs(X).float().cpu()
        y = torch.as_tensor(y)
        if self.metric == "loss":
            score = -float(row_losses(self.ex._loss_fn(), out, y).mean())
        else:
            pred, scores = decide(out, self.ex.run.task)
            n = self.ex.run.codec.n_classes if self.ex.run.codec is not None else 0
            value = compute((self.metric,), self.ex.run.task, y.numpy(), pred, scores, n)[self.metric]
            score = value if HIGHER_IS_BETTER[self.metric] else -value
        self.calls += 1
        self.progress(self.calls)
        return score


def _positive(k, what: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"{what} must be a positive integer, got {k!r}.")
    return int(k)


def _item(v):
    return v.item() if isinstance(v, np.generic) else v


def _column(a: np.ndarray):
    a = np.asarray(a)
    return list(a) if a.ndim > 1 else a
