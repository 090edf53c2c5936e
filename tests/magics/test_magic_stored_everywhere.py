"""Stored runs in every magic (issue 23, item 5): after a restart ``%predict``, ``%evaluate`` and
``%compare`` load a stored run by name themselves; ``run.evaluate(data=(X, y))`` and
``%evaluate NAME --data EXPR`` score a live or a loaded run on new labelled data, checked against
scikit-learn's metrics on the run's own predictions."""

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from sklearn.metrics import accuracy_score, f1_score, r2_score

import nbtrain
import nbtrain.core.store.runs as runstore


def _customers(n=300, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"age": rng.uniform(18, 80, n), "spend": rng.normal(50, 20, n)})
    df["segment"] = np.where(df["spend"] + 0.5 * df["age"] > 75, "gold", "basic")
    return df


def restart(shell, monkeypatch, session="restarted"):
    nbtrain.runs.clear()
    monkeypatch.setattr(runstore, "SESSION", session)
    shell.ip.run_line_magic("unload_ext", "nbtrain")
    shell.ip.run_line_magic("load_ext", "nbtrain")
    shell.ip.run_line_magic("config", "NbtrainMagics.display = 'none'")


TRAIN = "%%train --epochs 5 --name churn --target segment --lr 0.05\ndata = df\npreprocess = 'standardize'\n"


def test_predict_evaluate_and_compare_load_a_stored_run_after_a_restart(shell, monkeypatch):
    shell.ns["df"] = _customers()
    shell.run(TRAIN)
    before = shell.run("%predict churn df.drop(columns=['segment'])[:20]")
    restart(shell, monkeypatch)
    shell.ns["df"] = _customers()
    after = shell.run("%predict churn df.drop(columns=['segment'])[:20]")
    assert list(after) == list(before) and set(after) <= {"gold", "basic"}
    proba = shell.run("%predict --proba churn df.drop(columns=['segment'])[:5]")
    assert proba.shape == (5, 2)
    # nbtrain.load then the magic: still fine (the issue: it refused both ways)
    shell.run("import nbtrain\nr = nbtrain.load('churn')")
    assert list(shell.run("%predict churn df.drop(columns=['segment'])[:20]")) == list(before)
    res = shell.run("%compare churn")
    assert "churn" in repr(res)


def test_evaluate_data_scores_a_loaded_run_like_sklearn(shell, monkeypatch):
    shell.ns["df"] = _customers()
    shell.run(TRAIN)
    restart(shell, monkeypatch)
    new = _customers(200, seed=7)
    shell.ns["new"] = new
    res = shell.run("%evaluate churn --data (new.drop(columns=['segment']),new['segment']) --metrics accuracy,f1")
    pred = nbtrain.load("churn").predict(new.drop(columns=["segment"]))
    assert res["accuracy"] == pytest.approx(accuracy_score(new["segment"], pred))
    assert res["f1"] == pytest.approx(f1_score(new["segment"], pred, pos_label="gold"))
    assert repr(res.table).splitlines()[0] == "churn on (new.drop(columns=['segment']),new['segment'])"
    # a DataFrame holding the target column works as well
    again = shell.run("%evaluate churn --data new --metrics accuracy")
    assert again["accuracy"] == pytest.approx(res["accuracy"])


def test_evaluate_data_on_a_live_regression_run_and_bad_data():
    from sklearn.datasets import make_regression

    X, y = make_regression(400, 5, noise=5.0, random_state=0)
    run = nbtrain.train((X[:300], y[:300]), preprocess="standardize", epochs=20, lr=0.05, display="none")
    got = run.evaluate(data=(X[300:], y[300:]), metrics="r2")
    assert got["r2"] == pytest.approx(r2_score(y[300:], run.predict(X[300:])))
    with pytest.raises(nbtrain.NbtrainError, match="100 rows of features but 99 labels"):
        run.evaluate(data=(X[300:], y[301:]))
    with pytest.raises(nbtrain.NbtrainError, match="pair"):
        run.evaluate(data=X[300:])


def test_evaluate_data_names_labels_it_never_saw(shell):
    shell.ns["df"] = _customers()
    shell.run(TRAIN)
    shell.ns["X2"], shell.ns["y2"] = _customers(10).drop(columns=["segment"]), ["silver"] * 10
    with pytest.raises(UsageError, match="not seen in training: 'silver'"):
        shell.run("%evaluate churn --data (X2,y2)")
