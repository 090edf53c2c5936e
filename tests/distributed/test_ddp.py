"""2 CPU ranks (gloo) launched from this process, against one process on the same global batches."""

import math
import os
import shutil

import pytest
import torch
from dist_helpers import alive, bindable, classification, listening, max_weight_diff, regression

import nbtrain
from nbtrain.distributed import RankError
from nbtrain.distributed.ddp import shard_bounds

pytestmark = pytest.mark.timeout(90)


def _pair(data, **kw):
    kw.setdefault("display", "none")
    one = nbtrain.train(data, name="one", **kw)
    two = nbtrain.train(data, name="two", processes=2, **kw)
    return one, two


def _assert_same(one, two, tol=1e-5):
    assert one.status == two.status == "completed", (two.status, two.error)
    assert max_weight_diff(one.model, two.model) < tol
    assert len(one.history) == len(two.history)
    for key in one.history.keys():
        if key == "time":
            continue
        for a, b in zip(one.history[key], two.history[key]):
            assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6), (key, a, b)


def test_shard_bounds_cover_every_row_once():
    for n in range(0, 12):
        for world in (1, 2, 3, 5):
            parts = [shard_bounds(n, r, world) for r in range(world)]
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(parts[i][1] == parts[i + 1][0] for i in range(world - 1))


def test_classification_matches_one_process_with_uneven_last_batch():
    X, y = classification(n=90)
    # 54 training rows, batch 8: the last global batch has 6 rows (3 + 3); momentum and a
    # metric make any difference in gradients or validation show
    one, two = _pair(
        (X, y), model="mlp(8)", optimizer="sgd(momentum=0.9)", lr=0.1, epochs=4, batch_size=8, metrics="accuracy"
    )
    _assert_same(one, two)
    assert two.config["processes"] == 2 and two.config["backend"] == "gloo"
    assert two.history["val_accuracy"] == one.history["val_accuracy"]
    assert two.evaluate() == one.evaluate()  # kernel-side Run: weights, splits and preprocessing in place
    assert nbtrain.runs["two"] is two
    info = two._distributed
    assert info["start"] == "fork" and not info["late_exit"]
    assert not any(alive(p) for p in info["pids"])
    assert not listening(info["store_port"])


def test_regression_last_batch_with_fewer_rows_than_ranks():
    X, y = regression(n=41)
    Xv, yv = regression(n=10, seed=5)
    # 41 training rows, batch 8: the last global batch has 1 row, so rank 0 trains on none of it
    one, two = _pair(
        (X, y),
        val_data=(Xv, yv),
        test=0.0,
        model="mlp(6)",
        optimizer="adam",
        lr=0.01,
        epochs=3,
        batch_size=8,
        preprocess="standardize",
        scheduler="cosine",
    )
    _assert_same(one, two)


def test_stop_request_from_the_kernel_stops_every_rank():
    class StopAfterTwo(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            if epoch == 2:
                run.request_stop("Stop button")

    X, y = classification(n=60)
    seen = []

    class Record(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            seen.append((epoch, batch, run.live.loss()))

    run = nbtrain.train(
        (X, y),
        model="mlp(8)",
        epochs=10_000,
        batch_size=4,
        processes=2,
        display="none",
        callbacks=[StopAfterTwo(), Record()],
    )
    assert run.status == "stopped" and run.note == "Stop button"
    assert 2 <= len(run.history) < 10_000
    assert seen and all(loss is None or math.isfinite(loss) for _, _, loss in seen)
    assert not any(alive(p) for p in run._distributed["pids"])
    # the weights came back: not the initial ones
    again = nbtrain.train((X, y), model="mlp(8)", epochs=1, batch_size=4, display="none")
    assert max_weight_diff(run.model, again.model) > 0


def test_failing_rank_shows_its_own_error_and_leaves_no_ranks():
    X, y = classification(n=60)

    class Fails(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(5, 3)

        def forward(self, x):
            import torch.distributed as dist

            if self.training and dist.is_initialized() and dist.get_rank() == 1:
                raise ValueError("rank one cannot go on")
            return self.lin(x)

    with pytest.raises(RankError, match="rank 1 failed: ValueError: rank one cannot go on") as info:
        nbtrain.train((X, y), model=Fails(), epochs=3, processes=2, display="none", name="bad")
    assert "Traceback from rank 1" in str(info.value.__cause__) and "cannot go on" in info.value.remote_traceback
    run = nbtrain.runs["bad"]
    assert run.status == "failed" and "rank one cannot go on" in run.error
    logs = run.config["rank_files"]  # kept after a failure, named in the error
    assert logs in str(info.value) and os.path.exists(os.path.join(logs, "rank-1.log"))
    shutil.rmtree(logs)
    assert not any(alive(p) for p in run._distributed["pids"])
    assert bindable(run._distributed["store_port"])
    # a relaunch works at once
    ok = nbtrain.train((X, y), epochs=2, processes=2, display="none")
    assert ok.status == "completed"


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(processes=0), "processes must be a positive integer"),
        (dict(processes="2"), "processes must be a positive integer"),
        (dict(processes=2, batch_size=1), "batch_size=1 is smaller than processes=2"),
        (dict(processes=2, compile=True), "compile= is not supported"),
        (dict(processes=2, device="mps"), "device='cpu' or 'cuda'"),
    ],
)
def test_mistakes_are_config_errors_before_any_rank_starts(kw, match):
    X, y = classification(n=30)
    with pytest.raises(nbtrain.NbtrainError, match=match):
        nbtrain.train((X, y), epochs=1, display="none", **kw)
    assert not nbtrain.runs


def test_processes_one_is_the_plain_path():
    X, y = classification(n=30)
    run = nbtrain.train((X, y), epochs=1, processes=1, display="none")
    assert run.status == "completed" and "processes" not in run.config


@pytest.mark.slow
def test_spawned_ranks_with_a_model_defined_here_match_one_process():
    """The route GPUs take (no fork): ``python -m nbtrain.worker RUNFILE`` per rank, cloudpickled run."""
    from nbtrain.distributed.launcher import train_processes

    class Net(torch.nn.Module):  # a local class: pickled by value
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.a, self.b = torch.nn.Linear(5, 7), torch.nn.Linear(7, 3)

        def forward(self, x):
            return self.b(torch.tanh(self.a(x)))

    X, y = classification(n=50)
    kw = dict(data=(X, y), optimizer="sgd", lr=0.1, epochs=2, batch_size=6)
    one = nbtrain.train(model=Net(), display="none", **kw)
    two = train_processes(dict(kw, model=Net()), processes=2, start="spawn")
    _assert_same(one, two)
    assert two._distributed["start"] == "spawn"
    assert not any(alive(p) for p in two._distributed["pids"])
    assert not os.path.exists(two.config.get("rank_files") or "/nonexistent")


def test_never_forks_once_cuda_is_initialised(monkeypatch):
    from nbtrain.distributed import launcher

    settings = launcher.rank_settings(2, "cpu")
    assert launcher.default_start(settings) == "fork"
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert launcher.default_start(settings) == "spawn"
    with pytest.raises(nbtrain.NbtrainError, match="cannot be forked"):
        launcher.start_ranks(None, None, settings, "/nonexistent", "fork", 0, [])


def test_a_rank_killed_by_a_signal_is_named_and_the_others_end():
    import signal

    class KillRankOne(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            if epoch == 2:
                os.kill(run._distributed["pids"][1], signal.SIGKILL)

    X, y = classification(n=60)
    with pytest.raises(RankError, match="rank 1 ended with signal SIGKILL"):
        nbtrain.train(
            (X, y), epochs=100_000, batch_size=4, processes=2, display="none", name="killed", callbacks=[KillRankOne()]
        )
    run = nbtrain.runs["killed"]
    assert run.status == "failed" and len(run.history) >= 2
    shutil.rmtree(run.config["rank_files"])
    assert not any(alive(p) for p in run._distributed["pids"])


def test_a_torch_dataset_is_sharded_the_same_way():
    from torch.utils.data import TensorDataset

    X, y = classification(n=70)
    ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    one, two = _pair(ds, model="mlp(8)", optimizer="sgd(momentum=0.9)", lr=0.1, epochs=3, batch_size=8)
    _assert_same(one, two)
