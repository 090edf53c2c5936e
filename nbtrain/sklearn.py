"""nbtrain inside scikit-learn: :class:`NbtrainClassifier` and :class:`NbtrainRegressor`.

Each is a scikit-learn estimator whose parameters are nbtrain's options (``model``, ``loss``,
``optimizer``, ``preprocess``, ``epochs``, ``batch_size``, ``lr``, ...), so ``get_params`` /
``set_params``, ``clone``, ``Pipeline``, ``GridSearchCV`` and ``cross_val_score`` work on them.

>>> from sklearn.model_selection import GridSearchCV
>>> search = GridSearchCV(NbtrainClassifier(model="mlp(32)", preprocess="standardize"),
...                       {"lr": [1e-3, 1e-2], "epochs": [20, 40]}, cv=3)         # doctest: +SKIP
>>> search.fit(X, y).best_params_                                                   # doctest: +SKIP

A fit trains like ``nbtrain.train(..., val=0, test=0)`` on all the rows it is given (scikit-learn
holds data out itself) and shows nothing; its Run is ``est.run_``, not added to ``nbtrain.runs`` nor
to the run store (a grid search fits hundreds of times).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from .core.events import CallbackList
from .core.loop import fit as fit_loop
from .core.prepare import prepare

__all__ = ["NbtrainClassifier", "NbtrainRegressor"]


class _NbtrainEstimator(BaseEstimator):
    _task = "classification"

    def __init__(
        self,
        model=None,
        loss=None,
        optimizer=None,
        preprocess=None,
        *,
        epochs=10,
        batch_size=32,
        lr=None,
        val=0.0,
        seed=0,
        device="auto",
        metrics=None,
        patience=None,
        scheduler=None,
        amp=None,
        clip=None,
        accumulate=1,
        callbacks=None,
    ):
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.preprocess = preprocess
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.val = val
        self.seed = seed
        self.device = device
        self.metrics = metrics
        self.patience = patience
        self.scheduler = scheduler
        self.amp = amp
        self.clip = clip
        self.accumulate = accumulate
        self.callbacks = callbacks

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.preprocess is not None  # imputing presets take NaN
        tags.non_deterministic = False  # seeded: the same fit gives the same model
        return tags

    def _check_X(self, X, reset: bool):
        """A DataFrame stays one (column-wise presets need its columns); anything else becomes a
        numeric array of 2 or more dimensions (images, sequences)."""
        if hasattr(X, "iloc"):
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X
        finite = "allow-nan" if self.preprocess is not None else True
        return validate_data(self, X, reset=reset, allow_nd=True, ensure_all_finite=finite, dtype="numeric")

    def _fit(self, X, y):
        if len(y) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples to train, got {len(y)} sample.")
        model = self.model
        if hasattr(model, "parameters") and hasattr(model, "forward"):
            import copy

            model = copy.deepcopy(model)  # a Module is trained in place: each fit starts from the same weights
        run, job = prepare(
            (X, y), model=model, loss=self.loss, optimizer=self.optimizer, preprocess=self.preprocess,
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, val=self.val, test=0.0, seed=self.seed,
            device=self.device, metrics=self.metrics, patience=self.patience, scheduler=self.scheduler, amp=self.amp,
            clip=self.clip, accumulate=self.accumulate, task=self._task, name=type(self).__name__,
        )  # fmt: skip
        job.callbacks = CallbackList(list(self.callbacks or ()))
        fit_loop(run, job)
        if run.status == "failed":
            raise RuntimeError(f"{type(self).__name__}: training failed: {run.error}")
        run.release(collect=False)  # no data splits kept (nor pickled with the estimator)
        self.run_ = run
        self.model_ = run.model
        self.history_ = run.history
        return self

    def _features(self, X):
        check_is_fitted(self, "run_")
        return self._check_X(X, reset=False)


class NbtrainClassifier(ClassifierMixin, _NbtrainEstimator):
    """A classifier trained by nbtrain: ``fit`` / ``predict`` / ``predict_proba`` / ``score``
    (accuracy); ``classes_`` are the labels seen, in ``predict_proba``'s column order.

    >>> clf = NbtrainClassifier(model="mlp(32)", preprocess="standardize", epochs=30).fit(X, y)   # doctest: +SKIP
    >>> clf.predict(X[:3]), clf.predict_proba(X[:3]).shape                                      # doctest: +SKIP
    """

    _task = "classification"

    def fit(self, X, y):
        X = self._check_X(X, reset=True)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        check_classification_targets(y)
        self._fit(X, y)
        self.classes_ = np.asarray(self.run_.classes)
        return self

    def predict(self, X):
        X = self._features(X)
        return self.run_.predict(X)

    def predict_proba(self, X):
        X = self._features(X)
        return self.run_.predict_proba(X)


class NbtrainRegressor(RegressorMixin, _NbtrainEstimator):
    """A regressor trained by nbtrain: ``fit`` / ``predict`` / ``score`` (R²); one target or several
    (``y`` of shape ``(n, k)``).

    >>> reg = NbtrainRegressor(model="mlp(64)", preprocess="standardize", epochs=50).fit(X, y)   # doctest: +SKIP
    """

    _task = "regression"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        X = self._check_X(X, reset=True)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 0 or y.ndim > 2:
            raise ValueError(f"y must have shape (n,) or (n, n_targets), got {y.shape}.")
        check_consistent_length(X, y)
        if not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
        return self._fit(X, y)

    def predict(self, X):
        X = self._features(X)
        return self.run_.predict(X).astype(np.float64)  # scikit-learn's regressors answer in float64
