"""``%%train`` on a multi-hot target given as a DataFrame of named 0/1 columns: ``%evaluate`` shows a row
of each class by its column name (scikit-learn's per-label scores), ``%predict --proba`` names its
columns after them."""

import numpy as np
import pytest
from sklearn import metrics as skm

pytest.importorskip("pandas")

CELL = """%%train --epochs 10 --lr 0.02 --name tagsdf
import numpy as np, pandas as pd
rng = np.random.default_rng(3)
X = rng.normal(size=(400, 4)).astype("float32")
Y = pd.DataFrame({"red": X[:, 0] > 0, "green": X[:, 1] > 0, "blue": X[:, 2] + X[:, 3] > 0}).astype(int)
data = (X, Y)
model = "mlp(16)"
loss = "bce"
"""


def test_evaluate_shows_each_named_class_and_predict_proba_names_its_columns(shell):
    shell.run(CELL)
    run = shell.ns["_"]
    assert list(run.classes) == ["red", "green", "blue"]
    res, outputs = shell.capture("%evaluate tagsdf")
    text = outputs[1]["text/plain"].splitlines()
    assert text[0] == "tagsdf on test: each class"
    test = run._splits["test"]
    Xt, Yt = test.X.cpu().numpy(), test.y.cpu().numpy().astype(int)
    pred = run.predict(Xt)
    assert res["f1_micro"] == pytest.approx(skm.f1_score(Yt, pred, average="micro"))
    f1 = skm.f1_score(Yt, pred, average=None, zero_division=0)
    rows = {line.split()[0]: line.split() for line in text[2:5]}
    assert sorted(rows) == ["blue", "green", "red"]
    for k, name in enumerate(["red", "green", "blue"]):
        assert float(rows[name][3]) == pytest.approx(f1[k], abs=6e-4)  # the table shows 3 decimals
        assert int(rows[name][4]) == int(Yt[:, k].sum())  # support: the rows where the label is on
    proba = shell.run("%predict --proba tagsdf X[:5]")
    assert list(proba.columns) == ["red", "green", "blue"]
    np.testing.assert_allclose(proba.to_numpy(), run.predict_proba(shell.ns["X"][:5]))
