"""nbtrain/lessons: the computations behind the lessons' explore panels, and the panel itself
(controls -> figure + summary), without a front end."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("sklearn")

from nbtrain.lessons import Explorer, Summary, data_panels, explorer, results_panels, training_panels


def test_summary_text_and_html_agree():
    s = Summary({"accuracy": "0.912", "a < b": "x & y"}, title="t")
    assert repr(s).splitlines() == ["t", "accuracy  0.912", "a < b     x & y"]
    assert "a &lt; b" in s._repr_html_() and "x &amp; y" in s._repr_html_()


def test_explorer_redraws_on_change_and_reports_errors():
    import ipywidgets as widgets
    from matplotlib.figure import Figure

    calls = []

    def render(n):
        calls.append(n)
        if n < 0:
            raise ValueError("n must be positive")
        fig = Figure()
        fig.subplots().plot(range(n + 2))
        return fig, Summary({"n": n})

    ex = Explorer({"n": widgets.IntSlider(value=1, min=-5, max=5)}, render)
    png, summary = ex.draw()
    assert png.startswith(b"\x89PNG") and repr(summary) == "n  1"
    assert repr(ex.update(n=3)) == "n  3" and calls == [1, 3]
    assert repr(ex.update(n=-1)) == "error  ValueError: n must be positive"
    assert repr(ex.box) == "nbtrain explore panel: "  # stable text for nbval, whatever ipywidgets' version


def test_figure_png_is_deterministic():
    from matplotlib.figure import Figure

    def png():
        fig = Figure()
        fig.subplots().plot([0, 1], [1, 0])
        return explorer.figure_png(fig)

    assert png() == png()  # the saved output is compared by text only, but it should not churn in git either


def test_scaling_matters_for_sgd_and_unlabelled_statistics_leak_little():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    X = np.c_[rng.normal(0, 1.0, n) * 1000, rng.normal(2 * y, 1.0) * 0.01, rng.normal(2 * y, 1.0)]
    X[rng.random(X.shape) < 0.1] = np.nan
    Xtr, Xva, ytr, yva = X[:300], X[300:], y[:300], y[300:]
    _, raw, n_fit = data_panels.preprocess_and_score(Xtr, ytr, Xva, yva, scaler="none")
    Xt, std, _ = data_panels.preprocess_and_score(Xtr, ytr, Xva, yva, scaler="standardize")
    assert n_fit == 300 and not np.isnan(Xt).any()
    assert np.allclose(Xt.mean(axis=0), 0, atol=1e-9)  # standardized on the training rows
    assert std > raw + 0.1
    _, leaky, n_all = data_panels.preprocess_and_score(Xtr, ytr, Xva, yva, scaler="standardize", fit_on="all rows")
    assert n_all == 400 and abs(leaky - std) < 0.05


def test_selecting_features_on_all_rows_finds_signal_in_noise():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(300, 2000)), rng.integers(0, 2, 300)
    honest = data_panels.select_and_score(X, y, k=20, fit_on="training rows")
    leaky = data_panels.select_and_score(X, y, k=20, fit_on="all rows")
    assert leaky > honest + 0.1 and abs(honest - 0.5) < 0.15


def test_model_families_on_moons():
    from sklearn.datasets import make_moons

    X, y = make_moons(300, noise=0.2, random_state=0)
    Xtr, Xva, ytr, yva = X[:200], X[200:], y[:200], y[200:]
    _, linear, n_lin = data_panels.fit_and_score("logistic", 8, Xtr, ytr, Xva, yva)
    _, mlp, n_mlp = data_panels.fit_and_score("MLP", 16, Xtr, ytr, Xva, yva)
    assert n_lin == 3 and n_mlp == 2 * 16 + 16 + 16 + 1
    assert mlp > linear  # the moons are not linearly separable
    with pytest.raises(ValueError, match="unknown model"):
        data_panels.make_model("tree")


def test_mse_follows_the_outlier_mae_and_huber_do_not():
    x = np.linspace(-2, 2, 30)
    y = 3 * x + 1
    y[-1] = 40.0
    fits = training_panels.line_fits(x, y)
    assert abs(fits["MAE"][0] - 3) < 0.05 and abs(fits["Huber"][0] - 3) < 0.1
    assert fits["MSE"][0] > 3.5


def test_margin_losses():
    assert training_panels.margin_losses(0.0)["cross-entropy (logistic)"] == pytest.approx(math.log(2))
    assert training_panels.margin_losses(2.0)["hinge"] == 0.0 and training_panels.margin_losses(-1.0)["hinge"] == 2.0
    assert training_panels.margin_losses(-1e3)["cross-entropy (logistic)"] == 1e3  # no overflow
    assert training_panels.margin_losses(-0.1)["0-1"] == 1.0 and training_panels.margin_losses(0.1)["0-1"] == 0.0


def _gd(params, grads, state, lr):
    for p, g in zip(params, grads):
        p -= lr * g


def test_trajectory_follows_the_rule_given():
    path = training_panels.trajectory(_gd, lr=0.1, steps=3, start=(-4.0, 2.0))
    # GD on 0.5*(θ1² + 10 θ2²): θ1 ← 0.9 θ1, θ2 ← 0 θ2 at α = 0.1
    assert np.allclose(path[:, 0], [-4, -3.6, -3.24, -2.916]) and np.allclose(path[1:, 1], 0)
    blown = training_panels.trajectory(_gd, lr=0.5, steps=200)  # 1 - 0.5·10 = -4: diverges, stopped early
    assert len(blown) < 201 and np.isfinite(blown).all()
    noisy = training_panels.trajectory(_gd, lr=0.05, steps=5, noise=1.0, seed=3)
    assert np.array_equal(noisy, training_panels.trajectory(_gd, lr=0.05, steps=5, noise=1.0, seed=3))


def test_threshold_metrics_match_sklearn():
    from sklearn.metrics import f1_score, precision_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    m = results_panels.threshold_metrics(y, score, 0.5)
    pred = (score >= 0.5).astype(int)
    assert m["precision"] == pytest.approx(precision_score(y, pred)) and m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == 200
    none = results_panels.threshold_metrics(y, score, 1.5)
    assert none["precision"] == 0.0 and none["recall"] == 0.0 and none["tp"] + none["fp"] == 0


def test_throughput_is_measured():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(256, 8)), rng.integers(0, 3, 256)
    rate, per_step = results_panels.measure_throughput(X, y, 32, "cpu", seconds=0.05, hidden=(16,))
    assert rate > 0 and per_step > 0 and rate == pytest.approx(32 / per_step)
    assert results_panels.devices()[0] == "cpu"
