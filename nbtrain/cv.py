"""k-fold cross-validation: ``nbtrain.cross_validate`` (the twin of ``%%train --cv K``).

The cleaning presets (``dropna``, ``drop_duplicates``) run once, on all rows, before the folds are
drawn, so a row (or its copy) never sits on both sides.  Then each fold is one ``train`` call named
``<name>/fold<i>`` whose held-out part is its test split; everything else the fold's preprocessing
learns (scaler means, imputed values, categories) is fitted on that fold's training part only,
because ``train`` fits preprocessing on its training rows only.  Folds are scikit-learn's:
``StratifiedKFold`` for single-label classification, ``GroupKFold`` with ``groups=``, else ``KFold``.

>>> cv = nbtrain.cross_validate(load_iris(return_X_y=True), k=5, model="mlp(16)",
...                             preprocess="standardize", epochs=30)               # doctest: +SKIP
>>> cv.summary()["accuracy"]                                                       # doctest: +SKIP
{'mean': 0.96, 'std': 0.025}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .api import DISPLAYS, train
from .core.clean import apply_row_filters
from .core.declared import ROW_FILTERS
from .core.declared import parse as parse_preprocess
from .core.errors import ConfigError, DataError, DataTypeError
from .core.forms import is_dataset
from .core.labels import decide_task
from .core.run import runs
from .core.sources import Context, Table, adapt


@dataclass
class _Rows(Table):
    """A Table that remembers which rows of the declared data it holds (so ``groups`` follow the
    rows the cleaning presets keep)."""

    rows: np.ndarray = field(default=None)

    def take(self, idx) -> _Rows:
        t = super().take(idx)
        return _Rows(t.X, t.y, self.rows[idx])


class CrossValidation:
    """What :func:`cross_validate` returns: ``.runs`` (one Run a fold), ``.scores`` (each fold's
    held-out metrics), ``.folds`` (each fold's training and held-out row numbers in ``.data``, the
    cleaned ``(X, y)``), ``.summary()`` (metric -> mean and standard deviation over the folds).  In a
    notebook it shows a table (one row a fold, then mean ± std) and every fold's loss curves."""

    def __init__(self, name: str, runs: list, scores: list, folds: list, data=None, splitter: str = ""):
        self.name, self.runs, self.scores, self.folds = name, runs, scores, folds
        self.data = data  # (X, y) after the cleaning presets: what the fold indices index
        self.splitter = splitter  # StratifiedKFold, GroupKFold or KFold

    @property
    def metrics(self) -> list:
        return list(dict.fromkeys(k for s in self.scores for k in s))

    def summary(self) -> dict:
        """``{metric: {"mean": ..., "std": ...}}`` over the folds (population std, numpy's default,
        like scikit-learn's ``cross_validate`` users compute it)."""
        out = {}
        for m in self.metrics:
            vals = np.asarray([s[m] for s in self.scores if m in s and not math.isnan(s[m])], dtype=float)
            out[m] = {"mean": float(vals.mean()), "std": float(vals.std())} if len(vals) else {"mean": math.nan}
        return out

    def _view(self):
        from .display.cv import cv_view  # display code is imported only when something is shown

        return cv_view(self)

    def _ipython_display_(self):
        self._view()._ipython_display_()

    def __repr__(self) -> str:
        return self._view().table.text()


def _check(k, display, name) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ConfigError(f"k must be an integer of at least 2 (the number of folds), got {k!r}; e.g. k=5.")
    if display not in DISPLAYS and display not in (None, False):
        raise ConfigError(f"display must be one of {', '.join(DISPLAYS)}, got {display!r}.")
    if name is not None and (not isinstance(name, str) or not name.strip() or "/" in name):
        raise ConfigError(f"name must be a non-empty string without '/', got {name!r}.")


def _default_name() -> str:
    i = 1
    while any(key.startswith(f"cv{i}/") for key in runs) or f"cv{i}" in runs:
        i += 1
    return f"cv{i}"


def _splitter(k: int, task: str, y: np.ndarray, groups, seed: int):
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    if groups is not None:
        return GroupKFold(n_splits=k), "GroupKFold"
    if task == "classification" and y.ndim == 1:
        return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed % 2**32), "StratifiedKFold"
    return KFold(n_splits=k, shuffle=True, random_state=seed % 2**32), "KFold"


def folds(data, k: int = 5, groups=None, *, preprocess=None, target=None, seed: int = 0, loss=None, model=None,
          task=None, classes=None):  # fmt: skip
    """The cleaned data and its folds: ``(table, [(train_rows, test_rows), ...], splitter name)``;
    row numbers index the cleaned table."""
    if is_dataset(data):
        raise DataTypeError("cross_validate takes in-memory data ((X, y), a DataFrame with target=, a path), "
                            "not a torch Dataset.")  # fmt: skip
    table = adapt(data, Context(target=target))
    spec = parse_preprocess(preprocess)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.ndim != 1 or len(groups) != len(table):
            raise DataError(f"groups must hold one value a row of data ({len(table)} rows), got shape {groups.shape}.")
    cleaned = apply_row_filters(_Rows(table.X, table.y, np.arange(len(table))), spec)
    kept = cleaned.rows
    task_ = decide_task(loss, model, cleaned.y, task, classes)
    splitter, kind = _splitter(k, task_, cleaned.y, groups, seed)
    g = None if groups is None else groups[kept]
    try:
        parts = list(splitter.split(np.zeros((len(cleaned), 1)), cleaned.y if kind == "StratifiedKFold" else None, g))
    except ValueError as exc:
        raise DataError(f"cannot draw {k} folds ({kind}): {exc}") from None
    return Table(cleaned.X, cleaned.y), parts, kind


def _without_row_filters(preprocess):
    """The preprocessing each fold fits (the cleaning presets already ran on all rows)."""
    spec = parse_preprocess(preprocess)
    if spec.transformer is not None or not spec.row_filters:
        return preprocess
    steps = [s for s in (spec.text or "").split(" | ") if s.strip() and s.strip() not in ROW_FILTERS]
    return " | ".join(steps) or None


def cross_validate(data=None, k: int = 5, groups=None, *, name=None, display="auto", callbacks=(), **options):
    """Train ``k`` runs on ``k`` folds and score each on its held-out fold.

    Takes :func:`nbtrain.train`'s declarations and options (``model``, ``preprocess``, ``epochs``,
    ``val``, ``metrics``, ``log``, ...).  Each fold's run is ``<name>/fold<i>`` in ``nbtrain.runs``;
    its test split is the held-out fold (``test`` is not an option here), its validation split
    (``val``, default 0.2) comes from the fold's training part.  ``groups``: one value a row; rows of
    a group stay on one side (``GroupKFold``).

    >>> cv = nbtrain.cross_validate((X, y), k=5, model="mlp(16)", preprocess="standardize")   # doctest: +SKIP
    >>> cv.summary()                                                                          # doctest: +SKIP
    """
    _check(k, display, name)
    for key in ("test", "test_data", "processes", "resume", "checkpoint"):
        if options.get(key) not in (None, False, 0):
            raise ConfigError(
                f"{key}= is not supported by cross_validate: each fold's held-out part is its test split."
            )
    options.pop("test", None)
    name = name or _default_name()
    seed = int(options.get("seed", 0))
    table, parts, kind = folds(
        data, k, groups, preprocess=options.get("preprocess"), target=options.get("target"), seed=seed,
        loss=options.get("loss"), model=options.get("model"), task=options.get("task"), classes=options.get("classes"),
    )  # fmt: skip
    options["preprocess"] = _without_row_filters(options.get("preprocess"))
    options.pop("target", None)  # the table is (X, y) now
    say = None if display in (None, False, "none") else print
    fold_runs, scores = [], []
    for i, (tr, te) in enumerate(parts, start=1):
        run = train(
            (_rows(table.X, tr), table.y[tr]), test_data=(_rows(table.X, te), table.y[te]), test=0.0,
            name=f"{name}/fold{i}", display="none", callbacks=list(callbacks), **options,
        )  # fmt: skip
        score = run.evaluate("test", options.get("metrics")) if run.status != "failed" else {}
        fold_runs.append(run)
        scores.append(score)
        if say is not None:
            shown = ", ".join(f"{m}={v:.4g}" for m, v in score.items())
            say(f"{name}/fold{i} of {len(parts)} ({kind}, {len(tr)} train / {len(te)} held out): {run.status}; {shown}")
    folds_ = [(np.asarray(tr), np.asarray(te)) for tr, te in parts]
    return CrossValidation(name, fold_runs, scores, folds_, data=(table.X, table.y), splitter=kind)


def _rows(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]
