"""%evaluate, %predict, %runs, %compare, %train_panel in a real IPython shell, and their display twins."""

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbtrain
import nbtrain.display.builder
from nbtrain.display.evaluation import EvalResult, Table, compare, evaluate, runs_table

IRIS = "from sklearn.datasets import load_iris\ndata = load_iris(return_X_y=True)\n"
CANCER = "from sklearn.datasets import load_breast_cancer\ndata = load_breast_cancer(return_X_y=True)\n"
DIABETES = "from sklearn.datasets import load_diabetes\ndata = load_diabetes(return_X_y=True)\n"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def trained(shell):
    shell.run("%%train --epochs 10 --name iris --lr 0.05\n" + IRIS + "preprocess = 'standardize'")
    return shell


def test_evaluate_shows_table_and_returns_dict(trained):
    res, outputs = trained.capture("%evaluate iris")
    assert isinstance(res, EvalResult) and isinstance(res, dict) and trained.ns["_"] is res
    assert set(res) == {"accuracy", "precision", "recall", "f1", "auc"} and res["accuracy"] > 0.6
    assert res == nbtrain.runs["iris"].evaluate()
    assert len(outputs) == 1 and set(outputs[0]) == {"text/plain", "text/html"}
    text = outputs[0]["text/plain"]
    assert text.splitlines()[0] == "iris on the test split" and f"accuracy   {res['accuracy']:.4g}" in text
    assert "<table" in outputs[0]["text/html"] and "accuracy" in outputs[0]["text/html"]
    # the latest run by default, other splits and metrics
    assert trained.run("%evaluate") == res
    val = trained.run("%evaluate iris --on val --metrics accuracy,f1")
    assert set(val) == {"accuracy", "f1"} and val == nbtrain.runs["iris"].evaluate("val", ["accuracy", "f1"])


def test_evaluate_plots_confusion_and_roc(trained):
    res, outputs = trained.capture("%evaluate iris --plot confusion,roc")
    assert [sorted(o) for o in outputs] == [
        ["text/html", "text/plain"],
        ["image/png", "text/plain"],
        ["image/png", "text/plain"],
    ]
    assert all(o["image/png"] for o in outputs[1:])
    assert outputs[1]["text/plain"] == "<Figure: confusion matrix of iris on test>"
    from matplotlib.figure import Figure

    conf, roc = (f.figure for f in res.figures)
    assert isinstance(conf, Figure) and isinstance(roc, Figure)
    cells = [int(t.get_text()) for t in conf.axes[0].texts]
    assert sum(cells) == 30  # 150 samples, 20% test split
    assert len(roc.axes[0].lines) == 4  # one curve per class + the diagonal
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # nothing left open in pyplot
    with pytest.raises(UsageError, match="unknown plot 'pie'"):
        trained.run("%evaluate iris --plot pie")


def test_binary_roc_and_regression_plot(shell):
    shell.run("%%train --epochs 3 --name bc\n" + CANCER + "preprocess = 'standardize'")
    res = shell.run("%evaluate bc --plot roc")
    assert len(res.figures[0].figure.axes[0].lines) == 2 and res.figures[0]._repr_png_().startswith(PNG)
    shell.run("%%train --epochs 3 --name dia --lr 0.05\n" + DIABETES + "preprocess = 'standardize'")
    with pytest.raises(UsageError, match="'confusion' is for classification runs"):
        shell.run("%evaluate dia --plot confusion")
    res, outputs = shell.capture("%evaluate dia --plot pred")
    assert set(res) == {"mse", "mae", "r2"}
    assert outputs[1]["text/plain"] == "<Figure: predicted vs true of dia on test>"
    with pytest.raises(UsageError, match="does not fit a regression"):
        shell.run("%evaluate dia --metrics accuracy")


def test_evaluate_errors(shell):
    with pytest.raises(UsageError, match="no runs yet"):
        shell.run("%evaluate")
    shell.run("%%train --epochs 1 --name iris_mlp\n" + IRIS)
    with pytest.raises(UsageError, match="did you mean 'iris_mlp'"):
        shell.run("%evaluate iris_mpl")
    with pytest.raises(UsageError, match="invalid choice"):
        shell.run("%evaluate iris_mlp --on everything")
    with pytest.raises(UsageError, match="%evaluate.*unrecognized"):
        shell.run("%evaluate iris_mlp --plots roc")


def test_predict(trained):
    trained.run("X, y = data")
    pred = trained.run("%predict iris X[:10]")
    assert isinstance(pred, np.ndarray) and pred.shape == (10,)
    assert (pred == nbtrain.runs["iris"].predict(trained.ns["X"][:10])).all()
    proba = trained.run("%predict --proba iris X[[0, 1], :]")
    assert proba.shape == (2, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    # a DataFrame with one column per class name (issue 23)
    assert list(proba.columns) == list(nbtrain.runs["iris"].classes)
    assert (trained.run("%predict iris X[[0, 1], :] --proba") == proba).all().all()
    with pytest.raises(UsageError, match="X_new"):
        trained.run("%predict iris X_new")
    with pytest.raises(UsageError, match="needs a run name and an expression"):
        trained.run("%predict iris")
    with pytest.raises(UsageError, match="features"):
        trained.run("%predict iris X[:, :2]")
    with pytest.raises(ZeroDivisionError):  # the user's own expression fails normally
        trained.run("%predict iris X[:1] / 0 if False else 1/0")


def test_predict_decodes_string_labels(shell):
    shell.run(
        "%%train --epochs 2 --name s\nimport numpy as np\n"
        + IRIS
        + "names = np.array(['setosa', 'versicolor', 'virginica'])\ndata = (data[0], names[data[1]])"
    )
    assert set(shell.run("%predict s data[0]")) <= {"setosa", "versicolor", "virginica"}


def test_runs_table(shell):
    t = shell.run("%runs")
    assert isinstance(t, Table) and "none yet" in repr(t)
    shell.run("%%train --epochs 2 --name a\n" + IRIS)
    shell.run("%%train --epochs 1 --name b --lr 0.1\n" + IRIS + "model = 'mlp(4)'")
    t, outputs = shell.capture("%runs")
    lines = repr(t).splitlines()
    assert lines[1].split() == ["name", "when", "model", "loss", "optimizer", "epochs", "status", "best", "time"]
    assert lines[2].split()[3:8] == ["logistic", "cross_entropy", "adam", "2/2", "completed"]  # after when
    assert lines[3].split()[0] == "b" and lines[3].split()[6] == "1/1"
    assert "val_accuracy=" in lines[2]
    assert '<td align="left">b</td>' in t._repr_html_()
    with pytest.raises(UsageError, match="takes no arguments"):
        shell.run("%runs a")


def test_compare(shell):
    shell.run("%%train --epochs 3 --name a\n" + IRIS)
    shell.run("%%train --epochs 2 --name b --lr 0.1\n" + IRIS)
    res, outputs = shell.capture("%compare a b")
    assert [sorted(o) for o in outputs] == [["image/png", "text/plain"], ["text/html", "text/plain"]]
    text = repr(res.table)
    rows = {line[2:].split()[0]: line for line in text.splitlines()[2:] if line[2:].split()}
    assert rows["lr"].startswith("* ") and rows["epochs"].startswith("* ")
    assert rows["model"].startswith("  ") and rows["loss"].startswith("  ")
    assert "final" in text and "differ" in text
    html = res.table._repr_html_()
    # what the footnote says is what the table draws: a "*" on each differing row, in HTML and text
    assert html.count("<td>*</td>") == 2 and html.count("font-weight:bold;background") == 2
    marks = [line[:2] for line in text.splitlines()].count("* ")
    assert "* marks settings that differ" in html and marks == 3  # 2 rows + the footnote
    ax = res.figure.figure.axes[0]
    assert len(ax.lines) == 4 and [len(line.get_xdata()) for line in ax.lines] == [3, 3, 2, 2]
    assert shell.run("%compare").table.columns == ["setting", "a", "b"]  # all runs by default
    with pytest.raises(UsageError, match="no run named 'c'"):
        shell.run("%compare a c")


def test_train_panel(shell, monkeypatch):
    class FakePanel:
        def _repr_mimebundle_(self, **kw):
            return {"text/plain": "builder panel"}

    monkeypatch.setattr(nbtrain.display.builder, "panel", lambda **kw: FakePanel())
    _, outputs = shell.capture("%train_panel")
    assert outputs == [{"text/plain": "builder panel"}]

    def missing(**kw):
        raise ImportError("no module named nbtrain.display.builder")

    monkeypatch.setattr(nbtrain.display.builder, "panel", missing)
    with pytest.raises(UsageError, match="not available"):
        shell.run("%train_panel")


def test_compare_and_roc_of_runs_without_curves_do_not_warn(recwarn):
    from nbtrain.display.evaluation import loss_curves_figure, roc_figure

    empty = nbtrain.Run("empty", None, task="classification", config={})
    loss_curves_figure([empty])
    roc_figure(np.zeros(4, dtype=int), np.ones((4, 2)) / 2, ["a", "b"])  # one class present: no curve
    assert not [w for w in recwarn.list if "legend" in str(w.message).lower()]


def test_twins_work_without_ipython_magics():
    from sklearn.datasets import load_iris

    a = nbtrain.train(load_iris(return_X_y=True), epochs=2, display="none", name="a")
    b = nbtrain.train(load_iris(return_X_y=True), epochs=2, display="none", name="b", model="mlp(4)")
    res = evaluate(a, plot="confusion")
    assert res == a.evaluate() and len(res.figures) == 1
    assert "* model" in repr(compare([a, b]))
    assert repr(runs_table([a, b])).count("completed") == 2
    t = Table(["k", "v"], [["x", 1.23456], ["y", float("nan")], ["<b>", None]])
    assert repr(t).splitlines() == ["k    v", "x    1.235", "y    -", "<b>  -"]  # format.py's 4 digits
    assert "&lt;b&gt;" in t._repr_html_()


def test_compare_says_a_declared_split_is_given_not_zero():
    # a run given val_data has no split fraction: %compare said "val 0", which reads as "no validation"
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    given = nbtrain.train((X[:100], y[:100]), val_data=(X[100:], y[100:]), epochs=2, display="none", name="given")
    split = nbtrain.train((X, y), epochs=2, display="none", name="split")
    rows = {r["setting"]: [r["given"], r["split"]] for r in compare([given, split]).table.rows}
    assert rows["val"] == ["given", 0.2] and rows["test"] == [0.2, 0.2]  # test is still split off data
    assert "val_loss" in given.history.last
