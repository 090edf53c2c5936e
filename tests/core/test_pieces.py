"""Unit tests for preprocessing, models, losses, optimizers and metrics (torch/sklearn as oracles)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nbtrain.core import clean, declared
from nbtrain.core import losses as L
from nbtrain.core import metrics as M
from nbtrain.core import models as Mo
from nbtrain.core import optim as O
from nbtrain.core import preprocess as P
from nbtrain.core.errors import ConfigError, DataError, PresetError, ShapeError
from nbtrain.core.sources import Table

pd = pytest.importorskip("pandas")


def test_preprocess_presets_fit_on_given_rows_only():
    spec = declared.parse("impute:median | standardize")
    X_train = np.array([[1.0], [3.0], [np.nan]])
    tr = P.build(spec, X_train)
    out = P.features(tr, X_train, fit=True, what="train")
    assert np.allclose(out.mean(), 0, atol=1e-6)
    later = P.features(tr, np.array([[100.0]]), fit=False, what="test")
    scaler = tr.named_steps["standardize"]
    assert later[0, 0] == pytest.approx((100 - scaler.mean_[0]) / scaler.scale_[0], rel=1e-5)


def test_preprocess_unknown_and_malformed():
    with pytest.raises(PresetError, match="did you mean 'standardize'"):
        declared.parse("standardise")
    with pytest.raises(PresetError, match="impute strategy"):
        declared.parse("impute:average")
    with pytest.raises(PresetError, match="takes no arguments"):
        declared.parse("standardize(3)")


def test_preprocess_frame_onehot_and_non_numeric_error():
    df = pd.DataFrame({"n": [1.0, 2.0, np.nan, 4.0], "c": ["a", "b", "a", None]})
    tr = P.build(declared.parse("impute | onehot | standardize"), df)
    out = P.features(tr, df, fit=True, what="train")
    assert out.shape == (4, 3) and np.isfinite(out).all()
    with pytest.raises(DataError, match='add "onehot"'):
        P.build(declared.parse("standardize"), df)


def test_nan_without_impute_is_an_error():
    with pytest.raises(DataError, match="impute"):
        P.features(None, np.array([[1.0], [np.nan]]), fit=True, what="training data")


def test_row_filters():
    t = Table(np.array([[1.0], [1.0], [np.nan], [2.0]]), np.array([0, 0, 1, 1]))
    out = clean.apply_row_filters(t, declared.parse("dropna | drop_duplicates"))
    assert out.X.ravel().tolist() == [1.0, 2.0]


def test_models_sizes_from_data():
    m = Mo.build_model("mlp(16, 8, dropout=0.1, activation=tanh)", (5,), 3)
    assert m(torch.zeros(2, 5)).shape == (2, 3)
    assert any(isinstance(x, torch.nn.Tanh) for x in m)
    c = Mo.build_model("cnn(4, 8)", (1, 8, 8), 10)
    assert c(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert Mo.build_model("cnn", (8, 8), 3)(torch.zeros(2, 8, 8)).shape == (2, 3)
    with pytest.raises(ShapeError, match="image data"):
        Mo.build_model("cnn", (64,), 3)
    with pytest.raises(PresetError, match="did you mean 'mlp'"):
        Mo.parse_model("mpl(3)")
    with pytest.raises(PresetError):
        Mo.build_model("mlp(0)", (3,), 2)
    with pytest.raises(PresetError, match="does not take"):
        Mo.build_model("mlp(3, width=2)", (3,), 2)


def test_losses_against_torch():
    torch.manual_seed(0)
    out = torch.randn(6, 3)
    y = torch.randint(0, 3, (6,))
    assert torch.allclose(L.build_loss("cross_entropy")(out, y), F.cross_entropy(out, y))
    assert torch.allclose(L.build_loss("hinge", 3)(out, y), F.multi_margin_loss(out, y))
    s = torch.randn(6, 1)
    yb = torch.randint(0, 2, (6,))
    assert torch.allclose(L.build_loss("bce", 2)(s, yb), F.binary_cross_entropy_with_logits(s[:, 0], yb.float()))
    hinge = L.build_loss("hinge", 2)(s, yb)
    assert torch.allclose(hinge, torch.clamp(1 - s[:, 0] * (2 * yb - 1), min=0).mean())
    r, t = torch.randn(6, 1), torch.randn(6)
    # (B, 1) outputs against (B,) targets must not broadcast to (B, B)
    assert torch.allclose(L.build_loss("mse")(r, t), F.mse_loss(r[:, 0], t))
    assert torch.allclose(L.build_loss("mae")(r, t), F.l1_loss(r[:, 0], t))
    assert torch.allclose(L.build_loss("huber(delta=0.5)")(r, t), F.huber_loss(r[:, 0], t, delta=0.5))
    with pytest.raises(PresetError, match="known losss|known loss"):
        L.build_loss("crossentropy")


def test_optimizers():
    p = [torch.nn.Parameter(torch.zeros(3))]
    opt, info = O.build_optimizer("sgd(lr=0.1, momentum=0.9)", p)
    assert isinstance(opt, torch.optim.SGD) and info.lr == 0.1 and opt.defaults["momentum"] == 0.9
    opt, info = O.build_optimizer("gd", p)
    assert info.name == "gd" and isinstance(opt, torch.optim.SGD)  # full batch: see tests/core/test_loop.py
    opt, info = O.build_optimizer("rmsprop", p, lr=0.5)
    assert info.lr == 0.5
    with pytest.raises(ConfigError, match="given twice"):
        O.build_optimizer("sgd(lr=0.1)", p, lr=0.2)
    with pytest.raises(PresetError, match="does not take"):
        O.build_optimizer("adam(momentum=0.9)", p)
    with pytest.raises(PresetError, match="did you mean 'adam'"):
        O.build_optimizer("adma", p)
    for bad in (0, -1, float("nan"), "x"):
        with pytest.raises(ConfigError):
            O.check_lr(bad)
    opt, _ = O.build_optimizer(torch.optim.Adagrad, p, lr=0.3)
    assert isinstance(opt, torch.optim.Adagrad)
    opt, _ = O.build_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.7), p)
    assert opt.param_groups[0]["lr"] == 0.7


def test_metrics_against_sklearn():
    from sklearn import metrics as S

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    scores = rng.random((50, 3))
    scores /= scores.sum(1, keepdims=True)
    pred = scores.argmax(1)
    got = M.compute(M.CLASSIFICATION, "classification", y, pred, scores, 3)
    assert got["f1"] == pytest.approx(S.f1_score(y, pred, average="macro"))
    assert got["auc"] == pytest.approx(S.roc_auc_score(y, scores, multi_class="ovr"))
    yb = rng.integers(0, 2, 50)
    sb = rng.random(50)
    got = M.compute(("precision", "auc"), "classification", yb, (sb > 0.5).astype(int), np.c_[1 - sb, sb], 2)
    assert got["precision"] == pytest.approx(S.precision_score(yb, sb > 0.5))
    assert got["auc"] == pytest.approx(S.roc_auc_score(yb, sb))
    with pytest.raises(ConfigError, match="does not fit a regression"):
        M.parse_metrics("accuracy", "regression")
    with pytest.raises(PresetError, match="did you mean 'accuracy'"):
        M.parse_metrics(["acuracy"], "classification")
