"""``%evaluate --plot`` on runs whose targets are not one label a row (issue 19 items 3 and 6): a grid of
2x2 confusion matrices and ROC curves per label (plus the micro-average) for multi-hot targets, the
one-label figures over labelled positions for token tags and masks; the figures' numbers checked
against scikit-learn on the run's own predictions."""

import numpy as np
import pytest
import torch
from IPython.core.error import UsageError
from sklearn import metrics as skm
from torch import nn

import nbtrain
from nbtrain.display.evaluation import evaluate

ML_CELL = """%%train --epochs 12 --lr 0.02 --name tags5 --task multilabel
import numpy as np
rng = np.random.default_rng(3)
X = rng.normal(size=(500, 6)).astype("float32")
Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] + X[:, 3] > 0, X[:, 4] > 1.2, X[:, 5] > 0], 1).astype("int64")
data = (X, Y)
model = "mlp(16)"
"""


def _cells(ax) -> np.ndarray:
    return np.array([int(t.get_text()) for t in ax.texts]).reshape(2, 2)


def _test_rows(run):
    test = run._splits["test"]
    return test.X.cpu().numpy(), test.y.cpu().numpy().astype(int)


def test_multilabel_confusion_is_one_2x2_matrix_per_label_as_scikit_learn_counts(shell):
    shell.run(ML_CELL)
    res, outputs = shell.capture("%evaluate tags5 --plot confusion,roc")
    assert [o["text/plain"] for o in outputs[1:]] == [
        "<Figure: confusion matrix per label of tags5 on test>",
        "<Figure: ROC curves per label of tags5 on test>",
    ]
    run = nbtrain.runs["tags5"]
    Xt, Yt = _test_rows(run)
    pred = run.predict(Xt)
    want = skm.multilabel_confusion_matrix(Yt, pred)  # an independent count, label by label
    conf = res.figures[0].figure
    panels = [ax for ax in conf.axes if ax.texts]
    assert len(panels) == 5 and [ax.get_title() for ax in panels] == [f"label {k}" for k in range(5)]
    for k, ax in enumerate(panels):
        assert np.array_equal(_cells(ax), want[k])
        assert _cells(ax).sum() == len(Yt)  # every row once in every label's matrix
    assert f"{len(Yt)} rows" in conf._suptitle.get_text()


def test_multilabel_roc_has_a_curve_per_label_the_micro_average_and_the_macro_auc(shell):
    shell.run(ML_CELL)
    res = shell.run("%evaluate tags5 --plot roc")
    run = nbtrain.runs["tags5"]
    Xt, Yt = _test_rows(run)
    proba = run.predict_proba(Xt)
    ax = res.figures[0].figure.axes[0]
    labels = [ln.get_label() for ln in ax.lines]
    for k in range(5):
        auc_k = skm.roc_auc_score(Yt[:, k], proba[:, k])
        assert f"{k} (AUC {auc_k:.3f})" in labels
    micro = next(ln for ln in ax.lines if ln.get_label().startswith("micro-average"))
    fpr, tpr, _ = skm.roc_curve(Yt.ravel(), proba.ravel())
    assert np.allclose(micro.get_xdata(), fpr) and np.allclose(micro.get_ydata(), tpr)
    assert f"AUC {skm.roc_auc_score(Yt.ravel(), proba.ravel()):.3f}" in micro.get_label()
    macro = skm.roc_auc_score(Yt, proba, average="macro")
    assert ax.get_title().endswith(f"macro AUC {macro:.3f}")
    assert res["auc"] == pytest.approx(macro, abs=1e-6)  # the figure and the table tell the same


def test_a_plot_that_does_not_fit_a_multilabel_run_is_a_usage_error(shell):
    shell.run(ML_CELL.replace("--epochs 12", "--epochs 1"))
    with pytest.raises(UsageError, match=r"unknown plot 'pred'.*is for regression runs.*confusion, roc"):
        shell.run("%evaluate tags5 --plot pred")


def test_a_label_with_one_value_only_has_no_curve_and_the_legend_says_so():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, np.zeros(300)], 1).astype(np.int64)  # label 2 never on
    run = nbtrain.train((X, Y), loss="bce", model="mlp(8)", epochs=2, display="none")
    ax = evaluate(run, plot="roc").figures[0].figure.axes[0]
    assert not any(ln.get_label().startswith("2 ") for ln in ax.lines)
    assert "one value only): 2" in ax.get_legend().get_title().get_text()
    assert "macro AUC" not in ax.get_title()  # undefined, as the auc metric (NaN) says


def test_many_labels_show_the_first_sixteen_and_say_so():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    Y = (rng.random((200, 20)) < 0.4).astype(np.int64)
    run = nbtrain.train((X, Y), loss="bce", model="mlp(8)", epochs=1, display="none")
    res = evaluate(run, plot="confusion,roc")
    conf, roc = (f.figure for f in res.figures)
    assert len([ax for ax in conf.axes if ax.texts]) == 16
    assert "(labels 1-16 of 20)" in conf._suptitle.get_text()
    legend = [t.get_text() for t in roc.axes[0].get_legend().get_texts()]
    assert legend[0] == "each label" and legend[1].startswith("micro-average")


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(20, 16), nn.Linear(16, 3)

    def forward(self, ids):
        return self.out(self.emb(ids))


@pytest.mark.parametrize("what", ["tokens", "masks"])
def test_per_position_confusion_counts_labelled_positions_only(what):
    rng = np.random.default_rng(2)
    torch.manual_seed(0)
    if what == "tokens":
        x = rng.integers(0, 20, size=(300, 10))
        y = x % 3
        y[:, 7:] = -100
        model = Tagger()
    else:
        x = rng.normal(size=(300, 1, 5, 5)).astype(np.float32)
        y = (x[:, 0] > 0.3).astype(np.int64)
        y[:, 0, :] = -100
        model = nn.Conv2d(1, 2, 1)
    run = nbtrain.train((x, y), model=model, epochs=3, lr=0.05, display="none")
    res = evaluate(run, plot="confusion,roc")
    test = run._splits["test"]
    yt = test.y.cpu().numpy()
    pred = run.predict(test.X.cpu().numpy())
    keep = yt != -100
    want = skm.confusion_matrix(yt[keep], pred[keep], labels=list(range(len(run.classes))))
    ax = res.figures[0].figure.axes[0]
    got = np.array([int(t.get_text()) for t in ax.texts]).reshape(want.shape)
    assert np.array_equal(got, want) and got.sum() == keep.sum() < yt.size
    assert f"{keep.sum()} labelled positions" in ax.get_title()
    assert repr(res.figures[1]).endswith("over labelled positions>")
    # scored as data, the test split gives what the split gives (iou and iou_<class> for masks too)
    assert run.evaluate(data=(test.X.cpu().numpy(), yt)) == pytest.approx(run.evaluate())


def test_evaluate_data_on_a_multilabel_run_scores_and_plots_new_rows(shell):
    """%evaluate --data on a multi-hot run (it said "labels must be 1-D, one label per row")."""
    shell.run(ML_CELL)
    shell.run(
        "rng2 = np.random.default_rng(9)\nXn = rng2.normal(size=(120, 6)).astype('float32')\n"
        "Yn = np.stack([Xn[:, 0] > 0, Xn[:, 1] > 0, Xn[:, 2] + Xn[:, 3] > 0, Xn[:, 4] > 1.2, Xn[:, 5] > 0], 1)"
    )
    res = shell.run("%evaluate tags5 --data (Xn,Yn) --plot confusion")
    run, Xn, Yn = nbtrain.runs["tags5"], shell.ns["Xn"], shell.ns["Yn"].astype(int)
    pred, proba = run.predict(Xn), run.predict_proba(Xn)
    assert res["accuracy"] == pytest.approx(skm.accuracy_score(Yn, pred))
    assert res["f1_macro"] == pytest.approx(skm.f1_score(Yn, pred, average="macro", zero_division=0))
    assert res["auc"] == pytest.approx(skm.roc_auc_score(Yn, proba, average="macro"), abs=1e-6)
    panels = [ax for ax in res.figures[0].figure.axes if ax.texts]
    want = skm.multilabel_confusion_matrix(Yn, pred)
    assert all(np.array_equal(_cells(ax), want[k]) for k, ax in enumerate(panels))
    with pytest.raises(UsageError, match="holds only 0 and 1"):
        shell.run("%evaluate tags5 --data (Xn,Yn*2)")


def test_evaluate_data_on_a_token_tagger_counts_labelled_positions_only():
    rng = np.random.default_rng(4)
    torch.manual_seed(0)
    x = rng.integers(0, 20, size=(300, 10))
    y = x % 3
    y[:, 7:] = -100
    run = nbtrain.train((x, y), model=Tagger(), epochs=3, lr=0.05, display="none")
    xn = rng.integers(0, 20, size=(50, 10))
    yn = (xn + (rng.random(xn.shape) < 0.2)) % 3  # some wrong labels: accuracy below 1
    yn[:, 5:] = -100
    got = run.evaluate(data=(xn, yn))
    pred = run.predict(xn)
    keep = yn != -100
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(yn[keep], pred[keep])) and got["accuracy"] < 1
    # the test split given as data scores as the split itself
    test = run._splits["test"]
    assert run.evaluate(data=(test.X.cpu().numpy(), test.y.cpu().numpy())) == pytest.approx(run.evaluate())
    res = evaluate(run, data=(xn, yn), plot="confusion", data_name="new")
    want = skm.confusion_matrix(yn[keep], pred[keep], labels=[0, 1, 2])
    cells = np.array([int(t.get_text()) for t in res.figures[0].figure.axes[0].texts]).reshape(3, 3)
    assert np.array_equal(cells, want)
