"""``nbtrain.cross_validate``: scikit-learn's folds, no leakage from a held-out fold into anything a
fold fits, cleaning before folding, groups kept whole; scores checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GroupKFold, StratifiedKFold

import nbtrain


class Recorder(TransformerMixin, BaseEstimator):
    """Passes features through and remembers the row ids (column 0) it was fitted on."""

    def fit(self, X, y=None):
        self.seen_ = np.asarray(X)[:, 0].astype(int).copy()
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float32)


def _iris_with_ids():
    X, y = load_iris(return_X_y=True)
    return np.column_stack([np.arange(len(X)), X]), y


def test_no_fold_fits_anything_on_its_held_out_rows(one_thread):
    X, y = _iris_with_ids()
    cv = nbtrain.cross_validate(
        (X, y), k=3, model="mlp(8)", preprocess=Recorder(), epochs=2, display="none", name="leak"
    )
    assert [r.name for r in cv.runs] == ["leak/fold1", "leak/fold2", "leak/fold3"]
    assert all(f"leak/fold{i}" in nbtrain.runs for i in (1, 2, 3))
    held_out = np.concatenate([te for _, te in cv.folds])
    assert sorted(held_out.tolist()) == list(range(len(X)))  # every row held out exactly once
    for run, (tr, te) in zip(cv.runs, cv.folds):
        seen = set(run.preprocess.seen_.tolist())
        assert seen and seen <= set(X[tr, 0].astype(int).tolist())  # fitted on the fold's training part only
        assert not seen & set(X[te, 0].astype(int).tolist())
        assert run.preprocess is not cv.runs[0].preprocess or run is cv.runs[0]  # one fitted copy a fold


def test_folds_are_scikit_learns_stratified_folds_and_scores_match_sklearn(one_thread):
    X, y = load_iris(return_X_y=True)
    cv = nbtrain.cross_validate((X, y), k=4, model="mlp(16)", preprocess="standardize", epochs=5, display="none",
                                metrics="accuracy,f1", seed=3)  # fmt: skip
    assert cv.splitter == "StratifiedKFold"
    expected = list(StratifiedKFold(4, shuffle=True, random_state=3).split(X, y))
    for (tr, te), (etr, ete) in zip(cv.folds, expected):
        assert tr.tolist() == etr.tolist() and te.tolist() == ete.tolist()
    accs = []
    for run, score, (_, te) in zip(cv.runs, cv.scores, cv.folds):
        acc = accuracy_score(y[te], run.predict(X[te]))  # the held-out fold is the run's test split
        assert score["accuracy"] == pytest.approx(acc, abs=1e-12)
        accs.append(acc)
    summary = cv.summary()
    assert set(summary) == {"accuracy", "f1"}
    assert summary["accuracy"]["mean"] == pytest.approx(np.mean(accs), abs=1e-12)
    assert summary["accuracy"]["std"] == pytest.approx(np.std(accs), abs=1e-12)
    text = repr(cv)
    assert "mean ± std" in text and text.count("fold") >= 4


def test_cleaning_runs_before_the_folds_so_no_copy_sits_on_both_sides(one_thread):
    X, y = load_iris(return_X_y=True)
    X = np.vstack([X, X[:30]])  # 30 exact copies (same features, same label)
    y = np.concatenate([y, y[:30]])
    X[5, 2] = np.nan  # and a missing value
    cv = nbtrain.cross_validate((X, y), k=3, model="mlp(8)", preprocess="dropna | drop_duplicates | standardize",
                                epochs=2, display="none")  # fmt: skip
    Xc, yc = cv.data
    unique = {tuple(r) for r in np.asarray(Xc).tolist()}
    assert len(Xc) == len(unique) == 149  # the copies and the NaN row went before folding
    for tr, te in cv.folds:
        assert not {tuple(r) for r in Xc[tr].tolist()} & {tuple(r) for r in Xc[te].tolist()}
    assert cv.runs[0].config["preprocess"] == "standardize"  # each fold fits only the transform steps


def test_groups_stay_whole_and_follow_the_cleaned_rows(one_thread):
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[0, 0] = np.nan
    groups = np.arange(len(X)) // 10  # 15 groups of 10 rows
    cv = nbtrain.cross_validate((X, y), k=5, groups=groups, model="mlp(8)", preprocess="dropna | standardize",
                                epochs=2, display="none")  # fmt: skip
    assert cv.splitter == "GroupKFold"
    kept = groups[1:]  # dropna removed row 0
    expected = list(GroupKFold(5).split(X[1:], y[1:], kept))
    for (tr, te), (etr, ete) in zip(cv.folds, expected):
        assert tr.tolist() == etr.tolist() and te.tolist() == ete.tolist()
        assert not set(kept[tr]) & set(kept[te])


def test_bad_options_are_errors_before_training():
    data = load_iris(return_X_y=True)
    with pytest.raises(nbtrain.ConfigError, match="k must be an integer of at least 2"):
        nbtrain.cross_validate(data, k=1)
    with pytest.raises(nbtrain.ConfigError, match="test= is not supported by cross_validate"):
        nbtrain.cross_validate(data, k=3, test=0.3)
    with pytest.raises(nbtrain.DataError, match="groups must hold one value a row"):
        nbtrain.cross_validate(data, k=3, groups=[1, 2, 3])
    with pytest.raises(nbtrain.DataError, match="cannot draw 200 folds"):
        nbtrain.cross_validate(data, k=200)
    assert len(nbtrain.runs) == 0


def test_regression_uses_kfold_and_the_view_draws_every_fold(one_thread):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    cv = nbtrain.cross_validate((X, y), k=3, preprocess="standardize", epochs=2, display="none", name="reg")
    assert cv.splitter == "KFold" and set(cv.summary()) >= {"mse", "r2"}
    view = cv._view()
    lines = view.figure.figure.axes[0].get_lines()
    assert len(lines) == 6  # train and val loss of each of the 3 folds
    assert view.table.rows[-1]["fold"] == "mean ± std"


def test_log_reaches_every_fold(tmp_path, monkeypatch, one_thread):
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    data = load_iris(return_X_y=True)
    cv = nbtrain.cross_validate(data, k=3, model="mlp(8)", epochs=2, display="none", name="logged", log="csv")
    for i, run in enumerate(cv.runs, start=1):
        df = pd.read_csv(tmp_path / "runs" / "logged" / f"fold{i}" / "history.csv")
        assert df["train_loss"].tolist() == run.history["train_loss"]
        summary = pd.read_csv(tmp_path / "runs" / "logged" / f"fold{i}" / "history.summary.csv", dtype=str)
        held_out = dict(zip(summary["key"], summary["value"]))
        assert float(held_out["test_accuracy"]) == cv.scores[i - 1]["accuracy"]  # the fold's held-out score
