"""NbtrainClassifier / NbtrainRegressor inside scikit-learn's own tools: clone, Pipeline, GridSearchCV,
cross_val_score; numbers checked with scikit-learn's metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import nbtrain
from nbtrain.sklearn import NbtrainClassifier, NbtrainRegressor


def test_params_are_nbtrains_options_and_clone_works():
    clf = NbtrainClassifier(model="mlp(16)", preprocess="standardize", epochs=5, lr=0.01)
    params = clf.get_params()
    assert params["model"] == "mlp(16)" and params["epochs"] == 5 and params["lr"] == 0.01
    assert {"loss", "optimizer", "batch_size", "seed", "patience", "val", "device"} <= set(params)
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == params
    assert twin.set_params(lr=0.1, epochs=7).get_params()["lr"] == 0.1 and clf.lr == 0.01


def test_fit_predict_proba_score_with_string_labels_and_nothing_registered(one_thread):
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = NbtrainClassifier(model="mlp(16)", preprocess="standardize", epochs=30, lr=0.05).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    pred = clf.predict(X)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert (clf.classes_[proba.argmax(axis=1)] == pred).all()  # columns in classes_ order
    assert clf.score(X, names) == accuracy_score(names, pred) > 0.9
    assert len(clf.history_) == 30 and clf.run_.status == "completed"
    assert len(nbtrain.runs) == 0 and not nbtrain.runs.listing()  # a fit is not a session run


def test_cross_val_score_in_a_pipeline_matches_a_hand_loop(one_thread):
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("net", NbtrainClassifier(model="mlp(16)", epochs=20, lr=0.05))])
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, X, y, cv=cv)
    by_hand = []
    for tr, te in cv.split(X, y):
        fitted = clone(pipe).fit(X[tr], y[tr])
        by_hand.append(accuracy_score(y[te], fitted.predict(X[te])))
    assert scores.tolist() == by_hand  # seeded: each fit repeats exactly
    assert scores.mean() > 0.85


def test_grid_search_picks_the_trained_setting(one_thread):
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(
        NbtrainClassifier(model="mlp(16)", preprocess="standardize"), {"lr": [1e-4, 0.05], "epochs": [2, 25]}, cv=3
    )
    search.fit(X, y)
    assert search.best_params_ == {"epochs": 25, "lr": 0.05}
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert search.best_estimator_.classes_.tolist() == [0, 1, 2]
    assert search.score(X, y) == accuracy_score(y, search.predict(X))


def test_regressor_score_is_r2_and_a_dataframe_keeps_its_columns(one_thread):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X.assign(group=np.where(X["sex"] > 0, "a", "b"))  # a text column: the onehot preset needs the DataFrame
    reg = NbtrainRegressor(model="mlp(32)", preprocess="onehot | standardize", epochs=40, lr=0.01).fit(X, y)
    pred = reg.predict(X)
    assert pred.dtype == np.float64 and pred.shape == (len(X),)
    assert reg.score(X, y) == pytest.approx(r2_score(y, pred), abs=1e-12)
    assert reg.n_features_in_ == X.shape[1] and list(reg.feature_names_in_) == list(X.columns)
    with pytest.raises(ValueError, match="X has 3 features"), pytest.warns(UserWarning, match="feature names"):
        reg.predict(pd.DataFrame(np.zeros((2, 3))).to_numpy())
