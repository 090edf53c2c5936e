"""The learning-rate finder: a useful suggestion on real data, nothing the user had changes, clear errors."""

import math

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.core.tune.finder import suggest

pytestmark = pytest.mark.usefixtures("one_thread")


def test_digits_suggestion_trains_to_95_percent(digits):
    lr = nbtrain.lr_find(digits, model="mlp(64)", preprocess="standardize")
    assert 1e-4 <= lr <= 1e-1, lr.text()
    assert lr.finding.reason == "loss diverged" and len(lr.finding.lrs) <= 100
    run = nbtrain.train(digits, model="mlp(64)", preprocess="standardize", lr=lr, epochs=10, display="none")
    assert run.config["lr"] == pytest.approx(float(lr))
    assert run.evaluate()["accuracy"] >= 0.95


def test_the_ramp_is_exponential_and_stops_when_the_loss_diverges(digits):
    f = nbtrain.lr_find(digits, model="mlp(64)", preprocess="standardize", steps=60).finding
    ratios = np.diff(np.log(f.lrs))
    assert np.allclose(ratios, ratios[0]) and ratios[0] > 0
    assert f.lrs[0] == pytest.approx(1e-7)
    assert f.reason == "loss diverged" and len(f.lrs) < 60
    assert f.smoothed[-1] > 4 * min(f.smoothed) or not math.isfinite(f.losses[-1])


def test_nothing_the_user_had_changes(digits):
    torch.manual_seed(123)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    opt_state = opt.state_dict()
    rng = torch.get_rng_state()
    np_rng = np.random.get_state()[1].copy()
    net.eval()
    nbtrain.lr_find(digits, model=net, optimizer=opt, preprocess="standardize", steps=40)
    assert all(torch.equal(v, weights[k]) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    assert not net.training
    assert torch.equal(torch.get_rng_state(), rng)
    assert np.array_equal(np.random.get_state()[1], np_rng)
    assert opt.state_dict()["param_groups"] == opt_state["param_groups"] and not opt.state
    assert not nbtrain.runs  # the finder registers nothing


def test_a_seeded_train_after_the_finder_is_the_same_as_without(digits):
    def train():
        return nbtrain.train(digits, model="mlp(32)", preprocess="standardize", epochs=2, display="none")

    before = train().history["val_loss"]
    nbtrain.lr_find(digits, model="mlp(32)", preprocess="standardize", steps=30)
    assert train().history["val_loss"] == before


def test_train_lr_auto_runs_the_finder_and_says_which_rate(digits, capsys):
    run = nbtrain.train(digits, model="mlp(64)", preprocess="standardize", lr="auto", epochs=1, display="console")
    out = capsys.readouterr().out
    expected = float(nbtrain.lr_find(digits, model="mlp(64)", preprocess="standardize"))
    assert f"lr_find: chose lr={expected:.3g}" in out
    assert run.config["lr"] == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(lr="auto", optimizer="adam(lr=0.01)"), "sets its own"),
        (dict(lr="fast"), "positive number or 'auto'"),
    ],
)
def test_lr_auto_bad_input(small_digits, kwargs, words):
    with pytest.raises(nbtrain.ConfigError, match=words):
        nbtrain.train(small_digits, epochs=1, display="none", **kwargs)
    assert not nbtrain.runs


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(start_lr=1.0, end_lr=0.1), "below end_lr"),
        (dict(start_lr=0), "positive"),
        (dict(steps=2), "from 5 to"),
        (dict(steps=5000), "from 5 to"),
        (dict(diverge=1.0), "above 1"),
        (dict(rule="valley"), "rule must be"),
        (dict(lr=0.01), "searches the learning rate"),
    ],
)
def test_finder_bad_input(small_digits, kwargs, words):
    with pytest.raises(nbtrain.ConfigError, match=words):
        nbtrain.lr_find(small_digits, **kwargs)


def test_suggestion_rules_on_a_known_curve():
    lrs = list(np.logspace(-6, 0, 61))
    x = np.log10(lrs)
    curve = list(2 - np.tanh(2 * (x + 2)) + np.where(x > -0.5, 40 * (x + 0.5) ** 2, 0))
    lo = int(np.argmin(curve))
    rate, idx = suggest(lrs, curve, "minimum")
    assert rate == pytest.approx(lrs[lo] / 10)
    rate, idx = suggest(lrs, curve, "steepest")
    assert rate == pytest.approx(1e-2, rel=0.3)  # where tanh falls fastest
    assert suggest([1e-3], [1.0]) == (None, None)


def test_the_finder_steps_through_the_precision_like_training(small_digits):
    lr = nbtrain.lr_find(small_digits, model="mlp(32)", preprocess="standardize", amp="bf16", steps=30)
    assert lr > 0 and lr.finding.config["amp"] == "bf16"
