"""A multi-hot target given as a pandas DataFrame of 0/1 columns (``(X, Y_df)``, or ``data=df`` with
``target=["a", "b", "c"]``): the columns are the classes, by name; metrics checked with scikit-learn."""

import numpy as np
import pytest
from sklearn import metrics as skm

import nbtrain
from nbtrain.core.errors import DataError

pd = pytest.importorskip("pandas")

NAMES = ["cat", "dog", "bird"]


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] + X[:, 3] > 0], 1).astype(np.int64)
    return X, pd.DataFrame(Y, columns=NAMES)


def test_a_dataframe_of_0_1_columns_is_a_multi_hot_target_named_by_its_columns():
    X, Y = _data()
    Xt, Yt = _data(120, seed=1)
    run = nbtrain.train(
        (X, Y), test_data=(Xt, Yt), loss="bce", model="mlp(16)", epochs=15, lr=0.01, val=0.2, display="none"
    )
    assert run.config["target_kind"] == "multihot" and run.config["n_out"] == 3
    assert list(run.classes) == NAMES and run.config["named_classes"]
    pred, proba = run.predict(Xt), run.predict_proba(Xt)
    assert pred.shape == (120, 3) and np.array_equal(pred, (proba > 0.5).astype(int))
    got = run.evaluate()  # the explicit test split
    want = Yt.to_numpy()
    assert got["f1_micro"] == pytest.approx(skm.f1_score(want, pred, average="micro"))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(want, pred, average="macro"))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(want, pred))
    assert got["f1_micro"] > 0.7  # it learned something: three separable labels
    # new labelled data as a DataFrame, its columns taken by name whatever their order
    again = run.evaluate(data=(Xt, Yt[NAMES[::-1]]))
    assert again["f1_micro"] == pytest.approx(skm.f1_score(want, pred, average="micro"))


def test_task_multilabel_with_a_dataframe_target_and_a_list_of_target_columns():
    X, Y = _data(300)
    run = nbtrain.train((X, Y), task="multilabel", epochs=2, display="none")
    assert run.config["loss"] == "bce" and list(run.classes) == NAMES

    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)]).join(Y)
    run = nbtrain.train(df, target=NAMES, loss="bce", epochs=8, lr=0.01, display="none")
    assert run.config["target_kind"] == "multihot" and list(run.classes) == NAMES
    Xt, Yt = _data(80, seed=2)
    dft = pd.DataFrame(Xt, columns=[f"x{i}" for i in range(5)]).join(Yt)
    pred = run.predict(dft)  # the target columns are left out of the features
    got = run.evaluate(data=dft, metrics="f1_micro")
    assert got["f1_micro"] == pytest.approx(skm.f1_score(Yt.to_numpy(), pred, average="micro"))


def test_dataframe_targets_that_do_not_fit_are_one_sentence():
    X, Y = _data(100)
    with pytest.raises(DataError, match="multi-hot target holds only 0 and 1"):
        nbtrain.train((X, Y * 2), loss="bce", display="none")
    Xv, Yv = _data(40, seed=3)
    with pytest.raises(DataError, match=r"val_data's target columns are \['dog', 'cat', 'bird'\]"):
        nbtrain.train((X, Y), val_data=(Xv, Yv[["dog", "cat", "bird"]]), loss="bce", display="none")
    df = pd.DataFrame(X).join(Y)
    with pytest.raises(DataError, match="target column 'cow' is not in data"):
        nbtrain.train(df, target=["cat", "cow"], loss="bce", display="none")
