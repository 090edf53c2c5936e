"""The one engine: clipping, accumulation (against one larger batch), the step interface, bad input,
the live counters, early stopping as an object, one kept copy of the weights, TF32 for one run."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

import nbtrain
from nbtrain.core.device import make_precision
from nbtrain.core.early import EarlyStopping, Snapshot
from nbtrain.core.engine import Engine
from nbtrain.core.step import Stepper, StepPlan


def data(n=90, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X @ rng.standard_normal((d, k))).argmax(1)
    return X, y


def net(seed=0, d=5, k=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, k))


def train(model, X, y, **kw):
    kw = dict(dict(loss="cross_entropy", val=0, test=0, display="none", metrics=[]), **kw)
    return nbtrain.train((X, y), model=model, **kw)


def max_diff(a, b):
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("how", ["clip", "clip_value"])
def test_clipping_matches_a_hand_written_loop(how, one_thread):
    X, y = data()
    limit = 0.05 if how == "clip" else 0.01
    model, hand, unclipped = net(), net(), net()
    run = train(model, X, y, optimizer="gd", lr=0.5, epochs=4, **{how: limit})
    assert run.config[how] == limit
    opt = torch.optim.SGD(hand.parameters(), lr=0.5)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(4):
        loss = nn.functional.cross_entropy(hand(Xt), yt)
        opt.zero_grad()
        loss.backward()
        clipper = nn.utils.clip_grad_norm_ if how == "clip" else nn.utils.clip_grad_value_
        clipper(hand.parameters(), limit)
        opt.step()
    assert max_diff(model, hand) < 1e-5
    train(unclipped, X, y, optimizer="gd", lr=0.5, epochs=4)
    assert max_diff(model, unclipped) > 1e-2  # the clipping bit


@pytest.mark.parametrize("sched", [None, "onecycle"])
def test_accumulate_equals_one_k_times_larger_batch(sched, one_thread):
    # 90 rows: micro-batches of 8, four a step -> steps of 32, 32, 26 rows, as batches of 32 are
    X, y = data()
    small, big, plain = net(), net(), net()
    kw = dict(optimizer="sgd(momentum=0.9)", lr=0.1, epochs=3, scheduler=sched)
    a = train(small, X, y, batch_size=8, accumulate=4, **kw)
    b = train(big, X, y, batch_size=32, **kw)
    assert a.status == b.status == "completed" and a.config["accumulate"] == 4
    assert max_diff(small, big) < 1e-6
    for key in ("train_loss", "lr"):
        for u, v in zip(a.history[key], b.history[key]):
            assert math.isclose(u, v, rel_tol=1e-5), (key, u, v)
    assert a.live.step == 3 * 12  # batches; the optimizer stepped 3 x 3 times
    train(plain, X, y, batch_size=8, **kw)
    assert max_diff(plain, big) > 1e-3  # accumulating is what made them equal


def test_fp16_gradients_are_unscaled_before_clipping(one_thread):
    X, y = data()
    init, half, full = net(), net(), net()
    kw = dict(optimizer="sgd", lr=0.2, epochs=3, batch_size=30, clip=5.0)
    train(full, X, y, **kw)
    run = train(half, X, y, amp="fp16", **kw)
    assert run.status == "completed" and run.config["amp"] == "fp16"
    moved = max_diff(full, init)
    # clipping the scaled (x65536) gradients would have shrunk every update to almost nothing
    assert moved > 1e-2 and max_diff(half, full) < 0.05 * moved


def test_stepper_is_one_step_over_the_joined_batch():
    X, y = (torch.from_numpy(a) for a in data(n=20))
    a, b = net(), net()
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.3), torch.optim.SGD(b.parameters(), lr=0.3)
    prec = make_precision(None, torch.device("cpu"))
    loss_fn = nn.functional.cross_entropy
    mean = Stepper(a, loss_fn, opt_a, prec, clip=0.5).step([(X[:7], y[:7]), (X[7:], y[7:])])
    whole = Stepper(b, loss_fn, opt_b, prec, clip=0.5).step([(X, y)])
    assert max_diff(a, b) < 1e-6 and math.isclose(float(mean), float(whole), rel_tol=1e-6)
    assert all(p.grad is None for p in a.parameters())  # zero_grad(set_to_none=True)
    with pytest.raises(ValueError, match="at least one"):
        Stepper(a, loss_fn, opt_a, prec).step([])


def test_step_plan_scales():
    plan = StepPlan(n=10, batch_size=4, accumulate=2)
    assert [plan.steps(i) for i in range(3)] == [False, True, True]
    assert [plan.scale(i, r, r) for i, r in enumerate((4, 4, 2))] == [0.5, 0.5, 1.0]
    assert plan.steps_per_epoch() == 2
    ranks = StepPlan(n=10, batch_size=4, accumulate=1, world=2)
    assert ranks.scale(2, rows=1, global_rows=2) == 1.0 and ranks.scale(0, rows=2, global_rows=4) == 1.0


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(clip=0), "clip must be a positive number"),
        (dict(clip=-1.0), "clip must be a positive number"),
        (dict(clip=float("nan")), "clip must be a positive number"),
        (dict(clip=float("inf")), "clip must be a positive number"),
        (dict(clip=True), "clip must be a positive number"),
        (dict(clip="1"), "clip must be a positive number"),
        (dict(clip_value=0.0), "clip_value must be a positive number"),
        (dict(clip=1.0, clip_value=1.0), "use one"),
        (dict(accumulate=0), "accumulate must be a positive integer"),
        (dict(accumulate=1.5), "accumulate must be a positive integer"),
        (dict(accumulate="2"), "accumulate must be a positive integer"),
        (dict(accumulate=True), "accumulate must be a positive integer"),
        (dict(tf32="yes"), "tf32 must be True or False"),
    ],
)
def test_bad_clip_and_accumulate_are_one_clear_error_before_any_step(kw, match, monkeypatch):
    steps = []
    monkeypatch.setattr(Engine, "epoch", lambda self, epoch: steps.append(epoch))
    X, y = data()
    with pytest.raises(nbtrain.ConfigError, match=match) as err:
        train(net(), X, y, epochs=1, **kw)
    assert "\n" not in str(err.value) and not steps and not nbtrain.runs


def test_nan_message_names_clip():
    X, y = data()
    run = train("mlp(8)", X, y, optimizer="sgd(lr=1e6)", epochs=5)
    assert run.status == "failed" and "--clip" in run.error and "clip=1.0" in run.error, run.error
    clipped = train("mlp(8)", X, y, optimizer="sgd(lr=1e30)", epochs=5, clip=1e30)
    assert clipped.status == "failed" and "clip=1e+30" in clipped.error, clipped.error


def test_live_loss_is_the_running_mean_and_losses_since_the_batches(monkeypatch):
    monkeypatch.setattr(nbtrain.core.loop.Live, "min_interval", 0.0)
    seen = []

    class Watch(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if batch == num_batches:
                seen.append((run.live.loss(), run.live.losses_since(0), run.live.losses_since(num_batches)))

    X, y = data()
    run = train(net(), X, y, optimizer="sgd", batch_size=16, epochs=2, callbacks=[Watch()])
    for (mean, losses, none), logged in zip(seen, run.history["train_loss"]):
        assert math.isclose(mean, logged, rel_tol=1e-6) and none == []
        rows = [16] * 5 + [10]
        assert len(losses) == 6 and math.isclose(np.dot(losses, rows) / 90, logged, rel_tol=1e-6)


def test_live_reads_are_throttled():
    live = nbtrain.core.loop.Live()
    live.begin(1, 3)
    live.min_interval = 60.0
    live.record(torch.tensor(1.0), 2)
    assert live.loss() == 1.0 and live.losses_since(0) == [1.0]
    live.record(torch.tensor(4.0), 1)
    assert live.loss() == 1.0 and live.losses_since(0) == []  # within the interval: no new read
    live.min_interval = 0.0
    assert live.loss() == 2.0 and live.losses_since(1) == [4.0]  # (1*2 + 4*1) / 3


def test_early_stopping_is_a_named_object_whose_state_round_trips():
    es = EarlyStopping(patience=2, monitor="val_accuracy", higher=True)
    assert [es.update({"val_accuracy": v}, epoch=e) for e, v in enumerate((0.5, 0.7, 0.6, 0.6), 1)] == [
        True,
        True,
        False,
        False,
    ]
    assert (es.best_value, es.best_epoch, es.bad_epochs, es.should_stop) == (0.7, 2, 2, True)
    assert "val_accuracy" in es.reason and not es.update({"val_accuracy": float("nan")}, 5)
    model = net()
    es.state = Snapshot(model)
    es.state.capture(model)
    other = EarlyStopping(patience=2, monitor="val_accuracy", higher=True)
    other.load_state_dict(es.state_dict(), like=net(seed=1))
    assert (other.best_value, other.best_epoch, other.bad_epochs) == (0.7, 2, 3)
    fresh = net(seed=1)
    other.state.restore(fresh)
    assert max_diff(fresh, model) == 0.0


def test_one_copy_of_the_weights_allocated_once(monkeypatch):
    """The NaN guard and early stopping share one snapshot, allocated once per run and written in place."""
    made, captures = [], []
    real_alloc, real_capture = Snapshot._allocate, Snapshot.capture
    monkeypatch.setattr(Snapshot, "_allocate", lambda self, m: (made.append(1), real_alloc(self, m)))
    monkeypatch.setattr(Snapshot, "capture", lambda self, m: (captures.append(1), real_capture(self, m)))
    X, y = data(n=200)
    for patience in (None, 2):
        made.clear(), captures.clear()
        model = net()
        run = nbtrain.train((X, y), model=model, optimizer="adam(lr=0.05)", epochs=8, patience=patience, display="none")
        assert len(made) == 1, made  # one set of buffers for the whole run
        expected = 1 + (len(run.history) if patience is None else len(set(_improvements(run))))
        assert len(captures) == expected
    params = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    snap = Snapshot(model)
    assert snap.nbytes == params and not snap.on_device


def _improvements(run):
    best, out = math.inf, []
    for row in run.history:
        if row["val_loss"] < best:
            best = row["val_loss"]
            out.append(row["epoch"])
    return out


def test_nan_with_patience_falls_back_to_the_best_epoch():
    class Explode(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            if epoch == 3:
                for p in run.model.parameters():
                    p.data.fill_(float("nan"))  # the next epoch's loss is not finite

    X, y = data(n=200)
    snaps = {}

    class Keep(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            snaps[epoch] = copy.deepcopy(run.model.state_dict())

    run = train(net(), X, y, val=0.2, optimizer="adam", epochs=6, patience=5, callbacks=[Keep(), Explode()])
    assert run.status == "failed" and "best epoch" in run.error, run.error
    best = run.best_epoch
    for k, v in snaps[best].items():
        assert torch.equal(run.model.state_dict()[k], v)


def test_tf32_is_set_for_the_run_and_restored_after():
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    during = []

    class Look(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            during.append((matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark))

    saved = (matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark)
    X, y = data()
    try:
        matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark = False, False, False
        run = train(net(), X, y, epochs=1, tf32=True, callbacks=[Look()])
        assert during == [(True, True, True)] and run.config["tf32"] is True
        assert (matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark) == (False, False, False)
        matmul.allow_tf32 = True  # a user's own global choice is left alone
        train(net(), X, y, epochs=1, callbacks=[Look()])
        assert during[-1] == (True, False, False) and matmul.allow_tf32 is True
    finally:
        matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark = saved


def test_a_failure_while_restoring_never_leaves_the_run_running(monkeypatch):
    def broken(self):
        raise RuntimeError("cannot restore")

    monkeypatch.setattr(Engine, "restore_best", broken)
    X, y = data()
    with pytest.raises(RuntimeError, match="cannot restore"):
        train(net(), X, y, epochs=2, patience=3, val=0.2, name="r")
    assert nbtrain.runs["r"].status == "failed"


def test_losses_since_force_reads_past_the_throttle():
    live = nbtrain.core.loop.Live()
    assert not live.has_batch_losses
    live.begin(1, 3)
    live.min_interval = 60.0
    live.record(torch.tensor(1.0), 2)
    assert live.has_batch_losses and live.losses_since(0) == [1.0]
    live.record(torch.tensor(3.0), 1)
    assert live.losses_since(1) == []  # within the interval
    assert live.losses_since(1, force=True) == [3.0]  # the epoch's end: read anyway
