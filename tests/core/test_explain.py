"""run.explain(): every figure recomputed independently (scikit-learn's log_loss, confusion_matrix and
permutation_importance; the model's own logits for integrated gradients' completeness)."""

import io

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.core.errors import ConfigError, DataError, ExplainError
from nbtrain.core.progress import Ticker, ticker

pd = pytest.importorskip("pandas")
pytest.importorskip("captum")

NAMES = np.array(["setosa", "versicolor", "virginica"])


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X, NAMES[y]


@pytest.fixture(scope="module")
def run(iris):
    # few epochs: the model still errs, so there are confusions and large losses to find
    return nbtrain.train(iris, model="mlp(8)", preprocess="standardize", epochs=2, lr=0.01, display="none", seed=0)


@pytest.fixture(scope="module")
def ex(run):
    return run.explain(on="test")


def _proba_loss(run, X, y):
    """Per-row cross-entropy from predict_proba, by scikit-learn's log_loss row by row."""
    from sklearn.metrics import log_loss

    p = run.predict_proba(X).astype(np.float64)
    p /= p.sum(axis=1, keepdims=True)  # float32 rows sum to 1 within 1e-7 only
    return np.array([log_loss([t], [q], labels=list(run.classes)) for t, q in zip(y, p)]), p


def test_inputs_are_the_declared_rows_of_the_split(iris, run, ex):
    X, y = iris
    assert len(ex) == 30 and ex.inputs.shape == (30, 4)
    np.testing.assert_array_equal(ex.inputs, X[ex.rows])  # the raw rows, before standardize
    np.testing.assert_array_equal(ex.targets, y[ex.rows])
    np.testing.assert_array_equal(ex.predictions, run.predict(ex.inputs))
    assert ex.targets.dtype.kind == "U"  # the data's own class names


def test_top_losses_are_the_rows_with_the_highest_cross_entropy(run, ex):
    losses, p = _proba_loss(run, ex.inputs, ex.targets)
    top = ex.top_losses(k=9)
    assert list(top.columns) == ["index", "target", "prediction", "probability", "loss"]
    assert len(top) == 9 and np.all(np.diff(top["loss"].to_numpy()) <= 0)
    idx = top["index"].to_numpy()
    np.testing.assert_allclose(top["loss"], losses[idx], rtol=1e-4, atol=1e-6)
    assert top["loss"].min() >= np.sort(losses)[-9] - 1e-5  # no row outside the top 9 has a higher loss
    pred = p.argmax(axis=1)
    np.testing.assert_allclose(top["probability"], p[idx, pred[idx]], rtol=1e-4)
    np.testing.assert_array_equal(top["target"], ex.targets[idx])
    np.testing.assert_array_equal(top["prediction"], run.classes[pred[idx]])


def test_most_confused_matches_scikit_learns_confusion_matrix(run, ex):
    from sklearn.metrics import confusion_matrix

    labels = list(run.classes)
    cm = confusion_matrix(ex.targets, run.predict(ex.inputs), labels=labels)
    expected = sorted(
        ((labels[i], labels[j], int(cm[i, j])) for i in range(3) for j in range(3) if i != j and cm[i, j]),
        key=lambda t: -t[2],
    )
    got = ex.most_confused(k=10)
    assert got, "the under-trained model makes mistakes"
    assert sorted(got) == sorted(expected)
    assert [c for _, _, c in got] == sorted((c for _, _, c in got), reverse=True)
    assert all(isinstance(t, str) and isinstance(q, str) for t, q, _ in got)
    assert ex.most_confused(k=1) == got[:1]


def _predictor(run):
    """A minimal scikit-learn classifier over the run's predict / predict_proba (the independent side)."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Predictor(ClassifierMixin, BaseEstimator):
        def __init__(self, run=None):
            self.run = run

        def fit(self, X, y):
            return self

        def predict(self, X):
            return self.run.predict(X)

        def predict_proba(self, X):
            p = self.run.predict_proba(X).astype(np.float64)
            return p / p.sum(axis=1, keepdims=True)

    est = Predictor(run)
    est.classes_ = run.classes
    return est


def test_importance_matches_scikit_learns_permutation_importance(run, ex):
    from sklearn.inspection import permutation_importance

    got = ex.importance(n_repeats=4, metric="accuracy", seed=3).set_index("feature")
    ref = permutation_importance(
        _predictor(run), ex.inputs, ex.targets, scoring="accuracy", n_repeats=4, random_state=3
    )
    names = [f"x{i}" for i in range(4)]
    np.testing.assert_allclose(got.loc[names, "importance"], ref.importances_mean, atol=1e-9)
    np.testing.assert_allclose(got.loc[names, "std"], ref.importances_std, atol=1e-9)
    # the default metric is the monitored one, the run's loss: scikit-learn's log loss
    default = ex.importance(n_repeats=3, seed=1).set_index("feature")
    assert default.attrs["metric"] == "loss"
    ref = permutation_importance(
        _predictor(run), ex.inputs, ex.targets, scoring="neg_log_loss", n_repeats=3, random_state=1
    )
    np.testing.assert_allclose(default.loc[names, "importance"], ref.importances_mean, rtol=1e-3, atol=1e-5)


def test_importance_of_a_dataframe_names_its_columns():
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["target"] = NAMES[frame["target"]]
    run = nbtrain.train(frame, target="target", preprocess="standardize", epochs=3, display="none")
    ex = run.explain()
    assert isinstance(ex.inputs, pd.DataFrame) and list(ex.inputs.columns) == list(frame.columns[:4])
    pd.testing.assert_frame_equal(ex.inputs, frame.drop(columns="target").iloc[ex.rows])
    imp = ex.importance(n_repeats=2)
    assert sorted(imp["feature"]) == sorted(frame.columns[:4])
    attr = ex.attribute(ex.inputs.iloc[:3])
    assert isinstance(attr, pd.DataFrame) and attr.shape == (3, 4) and list(attr.columns) == list(ex.inputs.columns)


def _logits(run, X):
    """The model's logits for raw rows, through scikit-learn's own transform (independent of the torch path)."""
    feats = run.preprocess.transform(X.reshape(len(X), -1)).reshape(X.shape).astype(np.float32)
    with torch.no_grad():
        return run.model(torch.from_numpy(feats)).numpy()


def test_integrated_gradients_are_complete_in_the_raw_input_space(run, ex):
    x = ex.inputs[:8]
    attr = ex.attribute(x)
    assert attr.shape == x.shape
    logits, base = _logits(run, x), _logits(run, np.zeros_like(x))
    k = logits.argmax(axis=1)  # the predicted class
    gap = logits[np.arange(8), k] - base[0, k]
    np.testing.assert_allclose(attr.sum(axis=1), gap, rtol=0.05, atol=1e-3)
    # another class by name, another baseline (the training mean: 0 after standardize)
    mean = run.preprocess[-1].mean_  # the StandardScaler of the "standardize" pipeline
    attr = ex.attribute(x, target="virginica", baseline=mean)
    j = list(run.classes).index("virginica")
    gap = logits[:, j] - _logits(run, mean[None].astype(np.float64))[0, j]
    np.testing.assert_allclose(attr.sum(axis=1), gap, rtol=0.05, atol=1e-3)


def test_saliency_is_the_gradient_through_the_scaler(run, ex):
    x = ex.inputs[:5]
    sal = ex.attribute(x, method="saliency")
    scaler = run.preprocess[-1]
    feats = torch.tensor(scaler.transform(x), dtype=torch.float32, requires_grad=True)
    out = run.model(feats)
    out.gather(1, out.argmax(1, keepdim=True)).sum().backward()
    expected = (feats.grad.numpy() / scaler.scale_).astype(np.float32)  # d logit / d raw = d logit / d feature / scale
    np.testing.assert_allclose(sal, np.abs(expected), rtol=1e-4, atol=1e-7)


def test_images_attribute_per_pixel_and_are_complete():
    from sklearn.datasets import load_digits

    d = load_digits()
    X = torch.tensor(d.images[:400, None], dtype=torch.float32)  # (N, 1, 8, 8)
    y = d.target[:400]
    run = nbtrain.train((X, y), model="cnn", preprocess="normalize", epochs=2, display="none")
    ex = run.explain()
    assert ex.inputs.shape == (80, 1, 8, 8)
    x = ex.inputs[:32]
    attr = ex.attribute(x)
    assert attr.shape == (32, 1, 8, 8)
    logits, base = _logits(run, x), _logits(run, np.zeros_like(x))
    k = logits.argmax(axis=1)
    gap = logits[np.arange(32), k] - base[0, k]
    error = np.abs(attr.reshape(32, -1).sum(1) - gap)
    assert np.all(error <= 0.05 * np.abs(gap) + 1e-4), (error / np.abs(gap)).max()  # every row, small gaps too
    one = ex.attribute(x[0])  # one sample: its own shape back
    assert one.shape == (1, 8, 8)
    with pytest.raises(ExplainError, match="shuffles the columns"):
        ex.importance()


def test_regression_top_losses_are_squared_errors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=200)
    run = nbtrain.train((X, y), epochs=30, lr=0.05, display="none")
    ex = run.explain(on="val")
    top = ex.top_losses(5)
    assert list(top.columns) == ["index", "target", "prediction", "loss"]
    err = (run.predict(ex.inputs) - ex.targets) ** 2
    np.testing.assert_allclose(top["loss"], err[top["index"]], rtol=1e-4, atol=1e-6)
    assert top["loss"].iloc[0] == pytest.approx(err.max(), rel=1e-4)
    with pytest.raises(ExplainError, match="classification"):
        ex.most_confused()
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.inspection import permutation_importance

    class Predictor(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return run.predict(X)

    imp = ex.importance(n_repeats=2).set_index("feature")  # the run's loss, mse
    ref = permutation_importance(
        Predictor(), ex.inputs, ex.targets, scoring="neg_mean_squared_error", n_repeats=2, random_state=0
    )
    np.testing.assert_allclose(imp.loc[["x0", "x1", "x2"], "importance"], ref.importances_mean, rtol=1e-3, atol=1e-6)
    assert imp.index[0] == "x1"  # the largest coefficient


def test_onehot_preprocessing_needs_space_features():
    frame = pd.DataFrame({"a": np.arange(60.0) % 7, "c": ["u", "v", "w"] * 20, "y": ["p", "q"] * 30})
    run = nbtrain.train(frame, target="y", preprocess="onehot | standardize", epochs=1, display="none")
    ex = run.explain()
    with pytest.raises(ExplainError, match="space='features'"):
        ex.attribute(ex.inputs)
    assert ex.attribute(ex.inputs, space="features").shape == (len(ex), 4)  # a, c=u, c=v, c=w


def test_loaded_run_explains_given_data(tmp_path, run, iris):
    path = run.save(tmp_path / "r.nbtrain")
    loaded = nbtrain.load(str(path))
    with pytest.raises(DataError, match=r"run.explain\(data="):
        loaded.explain()
    X, y = iris
    ex = loaded.explain(data=(X[:50], y[:50]))
    losses, _ = _proba_loss(loaded, X[:50], y[:50])
    top = ex.top_losses(3)
    np.testing.assert_allclose(top["loss"], np.sort(losses)[::-1][:3], rtol=1e-4, atol=1e-6)
    assert ex.loss_name == "cross_entropy"


def test_bad_arguments_are_specific_errors(ex):
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        ex.top_losses(0)
    with pytest.raises(ConfigError, match="method must be"):
        ex.attribute(ex.inputs[:1], method="shap")
    with pytest.raises(ConfigError, match="metric must be"):
        ex.importance(metric="bleu")
    with pytest.raises(DataError, match="not seen in training"):
        ex.attribute(ex.inputs[:1], target="rose")


def test_ticker_writes_only_after_a_second():
    now = [0.0]
    out = io.StringIO()
    t = Ticker("importance of 4 columns", 9, stream=out, clock=lambda: now[0])
    t(1)
    now[0] = 0.5
    t(2)
    assert out.getvalue() == ""  # quick work shows nothing
    now[0] = 1.2
    t(5)
    now[0] = 2.0
    t(9)
    t.done()
    lines = out.getvalue().split("\r")
    assert lines[1].startswith("importance of 4 columns: 5/9")
    assert lines[-1].rstrip(" \n") == "importance of 4 columns: 9/9 in 2.0 s" and lines[-1].endswith("\n")
    assert len(lines[-1]) >= len(lines[-2])  # covers the progress text it replaces


def test_progress_can_be_silenced_or_handed_to_a_callable(ex, capsys):
    seen = []
    ex.importance(n_repeats=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 9) for i in range(1, 10)]  # the baseline score, then 4 columns x 2 repeats
    silent = ticker(False, "x", 3)
    silent.start -= 100.0  # long past the second
    silent(1)
    silent.done()
    assert capsys.readouterr().err == ""
    with pytest.raises(ConfigError, match="progress must be"):
        ex.importance(progress="yes")


def test_a_dataset_run_explains_given_rows(iris):
    from torch.utils.data import TensorDataset

    X = torch.tensor(iris[0], dtype=torch.float32)
    y = torch.tensor(np.searchsorted(NAMES, iris[1]))
    run = nbtrain.train(TensorDataset(X, y), epochs=1, display="none")
    assert len(run.explain()) == 30  # its own split: tests/core/test_explain_datasets.py
    ex = run.explain(data=(X[:20], y[:20]))
    assert len(ex) == 20 and ex.on == "data"
    np.testing.assert_array_equal(ex.predictions, run.predict(X[:20]))


def test_a_loss_that_fails_on_one_row_is_named(iris):
    def picky(out, y):
        if len(y) < 2:
            raise RuntimeError("needs two rows")
        return torch.nn.functional.cross_entropy(out, y)

    run = nbtrain.train(iris, loss=picky, epochs=1, display="none")
    with pytest.raises(ExplainError, match=r"failed on a single row \(RuntimeError: needs two rows\)"):
        run.explain().top_losses()


def test_top_losses_and_confusion_cost_one_pass(run):
    calls = []
    hook = run.model.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    try:
        ex = run.explain()
        ex.top_losses(5), ex.most_confused(), ex.confusion(), ex.top_losses(3)
    finally:
        hook.remove()
    assert calls == [30]  # one batch: the whole test split, once
