"""The one engine on 1 and 2 ranks: the same scenarios (clip, accumulate, NaN, early stop, Stop) give
the same histories and weights; the ranks read no number from their tensors per step; CUDA ranks are
never forked."""

import math
import os

import pytest
import torch
from dist_helpers import classification, max_weight_diff

import nbtrain
from nbtrain.core.events import CallbackList
from nbtrain.distributed import launcher
from nbtrain.distributed.channel import Channel

pytestmark = pytest.mark.timeout(120)

READS = ("item", "__float__", "__int__", "__bool__", "tolist", "cpu")


def two_ranks(args: dict, name="two", **extra):
    """``train(..., processes=2)`` with extra rank settings (e.g. a fixed ``stop_every``)."""
    settings = launcher.rank_settings(2, "cpu")
    settings.update(extra)
    run, job = launcher.prepare_for_ranks(args, settings, name)
    run.config["checkpoint"] = None
    nbtrain.runs.register(run)
    return launcher.run_ranks(run, job, CallbackList(), settings, start="fork")


def assert_same(one, two, tol=1e-5):
    assert one.status == two.status, (one.status, one.error, two.status, two.error)
    assert max_weight_diff(one.model, two.model) < tol
    assert len(one.history) == len(two.history) and one.best_epoch == two.best_epoch
    for key in one.history.keys():
        if key != "time":
            for a, b in zip(one.history[key], two.history[key]):
                assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6), (key, a, b)


SCENARIOS = {
    "clip": dict(optimizer="sgd(momentum=0.9)", lr=0.5, clip=0.3, epochs=3, batch_size=8),
    "accumulate": dict(
        optimizer="sgd(momentum=0.9)", lr=0.1, accumulate=3, scheduler="onecycle", epochs=3, batch_size=6
    ),
    "nan": dict(optimizer="sgd(lr=1e6)", epochs=4, batch_size=8),
    "early stop": dict(optimizer="adam(lr=0.05)", patience=2, epochs=40, batch_size=8, model="mlp(32)"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_same_scenario_same_history_on_one_and_two_ranks(scenario):
    X, y = classification(n=90, seed=3)
    kw = dict(dict(model="mlp(8)", display="none"), **SCENARIOS[scenario])
    one = nbtrain.train((X, y), name="one", **kw)
    two = nbtrain.train((X, y), name="two", processes=2, **kw)
    assert_same(one, two)
    expected = {"nan": "failed", "early stop": "completed"}.get(scenario, "completed")
    assert one.status == expected, one.error
    if scenario == "nan":
        assert "--clip" in two.error and all(torch.isfinite(p).all() for p in two.model.parameters())
    if scenario == "early stop":
        assert "early stopping" in one.note and "early stopping" in two.note and len(one.history) < 40


def test_stop_at_the_same_step_on_one_and_two_ranks(monkeypatch):
    """The kernel's Stop reaches rank 0 as a file; with a check every step, both runs stop after
    batch 3 of epoch 2 and keep the same weights."""
    X, y = classification(n=60)  # 36 training rows, batch 4: 9 batches an epoch
    calls = {"n": 0}

    def stop_requested(self):  # rank 0 asks after every step and at each epoch end: 9 + 1 + 3
        calls["n"] += 1
        return calls["n"] >= 13

    class StopAt(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if (epoch, batch) == (2, 3):
                run.request_stop("Stop button")

    kw = dict(model="mlp(8)", optimizer="sgd(momentum=0.9)", lr=0.1, epochs=5, batch_size=4)
    one = nbtrain.train((X, y), display="none", callbacks=[StopAt()], **kw)
    monkeypatch.setattr(Channel, "stop_requested", stop_requested)  # inherited by the forked ranks
    two = two_ranks(dict(data=(X, y), **kw), stop_every=1)
    assert one.status == two.status == "stopped" and len(one.history) == len(two.history) == 1
    assert max_weight_diff(one.model, two.model) < 1e-5


def _count_reads_in_ranks(monkeypatch, folder):
    """Every host read in a (forked) process appends its name to ``folder/<pid>.txt``."""
    for name in READS:
        orig = getattr(torch.Tensor, name)

        def counting(t, *a, _orig=orig, _name=name, **k):
            with open(os.path.join(folder, f"{os.getpid()}.txt"), "a") as f:
                f.write(_name + "\n")
            return _orig(t, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counting)


def _rank_reads(run, folder):
    out = []
    for pid in run._distributed["pids"]:
        try:
            with open(os.path.join(folder, f"{pid}.txt")) as f:
                out.append(len(f.read().split()))
        except FileNotFoundError:
            out.append(0)
    return out


@pytest.mark.parametrize("every", [10**6, None])
def test_ranks_read_no_number_per_step(every, monkeypatch, tmp_path):
    """A fixed stop check far apart: the same reads for 8 and 32 steps an epoch.  The default (rank 0
    picks k from the step time): reads grow with time (about 5 a second), not with batches."""
    counts = {}
    for batches in (8, 32):
        X, y = classification(n=batches * 16 * 2, seed=1)
        folder = tmp_path / str(batches)
        folder.mkdir()
        with monkeypatch.context() as m:
            _count_reads_in_ranks(m, str(folder))
            kw = dict(model="mlp(16)", epochs=3, batch_size=16, val=0.5, test=0.0)
            run = two_ranks(dict(data=(X, y), **kw), name=f"r{batches}", stop_every=every)
        assert run.status == "completed", run.error
        counts[batches] = (_rank_reads(run, str(folder)), sum(run.history["time"]))
    (few, _), (many, seconds) = counts[8], counts[32]
    print(f"stop_every={every}: rank reads {few} (3 x 8 steps), {many} (3 x 32 steps, {seconds:.2f} s)")
    assert min(few) >= 3  # the epoch ends read: the counter works in the ranks
    if every:
        assert many == few
    else:
        assert all(m - f <= 2 * (seconds / 0.2) + 6 for m, f in zip(many, few)), (few, many)


def test_fork_is_refused_for_cuda_ranks_before_anything_starts(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    prepared = []
    monkeypatch.setattr(launcher, "prepare_for_ranks", lambda *a, **k: prepared.append(a))
    X, y = classification(n=30)
    with pytest.raises(nbtrain.DeviceError, match="start='spawn'") as err:
        launcher.train_processes(dict(data=(X, y), device="cuda"), processes=2, start="fork")
    assert "Cannot re-initialize CUDA" in str(err.value) and not prepared and not nbtrain.runs
    with pytest.raises(nbtrain.DeviceError, match="spawn"):
        launcher.check_start("fork", {"device": "cuda"})
    assert launcher.check_start("auto", {"device": "cuda"}) == "spawn"


def test_bf16_ranks_are_checked_in_the_kernel(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (7, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla V100")
    with pytest.raises(nbtrain.DeviceError, match="amp='fp16'"):
        launcher.rank_settings(2, "cuda", amp="bf16")
