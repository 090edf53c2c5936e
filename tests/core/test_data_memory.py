"""Memory that does not grow (issue 11 items 4-5, issue 15 item 2): one shared copy of the same arrays,
no device copy kept by a finished run, data kept on the host when the device is small, an epoch's
shuffle without a copy of the training set."""

import gc
import threading
import weakref

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.core import placement
from nbtrain.core.tensor_batches import TensorBatches


def _rss() -> int:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _data(rows, features=16, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def test_runs_on_the_same_arrays_share_one_copy_and_deleting_frees_it():
    X, y = _data(2000)
    kw = dict(model="mlp(8)", preprocess="standardize", epochs=1, display="none")
    a = nbtrain.train((X, y), name="a", **kw)
    b = nbtrain.train((X, y), name="b", batch_size=64, **kw)  # a tuple made again, the same arrays
    assert a._splits["train"].X is b._splits["train"].X and a.preprocess is b.preprocess
    c = nbtrain.train((X, y), name="c", preprocess="normalize", model="mlp(8)", epochs=1, display="none")
    assert c._splits["train"].X is not a._splits["train"].X  # other preprocessing: its own copy
    X[1234, 5] += 100.0  # one value changed in place: prepared again
    d = nbtrain.train((X, y), name="d", **kw)
    assert d._splits["train"].X is not a._splits["train"].X
    ref = weakref.ref(a._splits["train"].X)
    acc = a.evaluate()["accuracy"]
    del nbtrain.runs["b"]
    assert a.evaluate()["accuracy"] == acc and ref() is not None
    del b, nbtrain.runs["a"]
    with pytest.raises(nbtrain.NbtrainError, match="deleted"):
        a.evaluate()
    del a
    gc.collect()
    assert ref() is None


def test_ten_runs_grow_resident_memory_by_at_most_the_data():
    X, y = _data(100_000, 64)  # 26.4 MB
    data = X.nbytes + y.nbytes
    kw = dict(model="logistic", preprocess="standardize", epochs=1, batch_size=8192, display="none")
    nbtrain.train((X, y), name="m0", **kw)
    gc.collect()
    after_first = _rss()
    probe = X[:64]
    first = {}
    for i in range(1, 10):
        run = nbtrain.train((X, y), name=f"m{i}", **kw)
        first[run.name] = (run.evaluate()["accuracy"], run.predict(probe))
    gc.collect()
    grown = _rss() - after_first
    assert grown <= data, f"RSS grew {grown / 1e6:.1f} MB over nine runs; the data is {data / 1e6:.1f} MB"
    for name, (acc, pred) in first.items():
        assert nbtrain.runs[name].evaluate()["accuracy"] == acc
        assert np.array_equal(nbtrain.runs[name].predict(probe), pred)
    for i in range(10):
        del nbtrain.runs[f"m{i}"]


def test_a_finished_run_keeps_no_device_copy(monkeypatch):
    """On a device other than the host, the splits go back to the shared host copy after training."""
    from nbtrain.core import inputs

    X, y = _data(300)
    run = nbtrain.train((X, y), model="mlp(4)", epochs=1, display="none")
    host = run._splits["train"]
    # fake a device copy (a "meta" tensor stands in for a CUDA one) and release it
    copy = inputs.DeviceCopy(host.owner.prepared, {})
    run._splits["train"] = TensorBatches(host.X.to("meta"), host.y.to("meta"), 32, host.generator, owner=copy)
    inputs.release_device(run)
    assert run._splits["train"].X is host.owner.prepared.host["train"][0]


def test_auto_keeps_data_on_the_host_when_the_device_is_small(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(placement, "free_bytes", lambda device: 10_000_000)
    assert placement.choose(6_000_000, cuda) == "cpu"
    assert placement.choose(4_000_000, cuda) == "device"
    assert placement.choose(6_000_000, cuda, "device") == "device"
    assert placement.choose(10, cuda, "cpu") == "cpu"
    monkeypatch.setattr(placement, "free_bytes", lambda device: 1000)  # the CPU "device" is small too
    X, y = _data(500)
    run = nbtrain.train((X, y), model="mlp(4)", epochs=2, display="none")
    assert run.config["data_device"] == "cpu" and run.status == "completed"
    monkeypatch.setattr(placement, "free_bytes", lambda device: None)
    again = nbtrain.train((X, y), model="mlp(4)", epochs=2, display="none", data_device="device")
    assert again.config["data_device"] == "device"
    assert again.history.last["train_loss"] == pytest.approx(run.history.last["train_loss"], rel=1e-6)
    with pytest.raises(nbtrain.NbtrainError, match="data_device"):
        nbtrain.train((X, y), data_device="gpu", display="none")


def test_host_batches_are_gathered_per_batch_and_moved():
    X = torch.arange(40, dtype=torch.float32).reshape(20, 2)
    y = torch.arange(20)
    b = TensorBatches(X, y, 8, torch.Generator().manual_seed(0), device="meta")
    assert b.host
    batches = list(b.epoch())
    assert [len(yb) for _, yb in batches] == [8, 8, 4] and all(xb.device.type == "meta" for xb, _ in batches)
    assert b.probe()[0].device.type == "meta"


def test_a_shuffled_epoch_does_not_copy_the_training_set():
    """Peak resident memory during the epochs stays within 15% of the training data above what it was
    when training started (a 400 MB training set; the old X[perm] gathered all of it again)."""
    rows, feats = 1_600_000, 64
    X = np.random.default_rng(0).standard_normal((rows, feats), dtype=np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    data = X.nbytes + y.nbytes
    peak, base, stop = [0], [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            stop.wait(0.002)

    class Watch(nbtrain.Callback):
        def on_fit_start(self, run, **kw):
            gc.collect()
            base[0] = peak[0] = _rss()
            threading.Thread(target=sample, daemon=True).start()

        def on_fit_end(self, run, **kw):
            stop.set()

    run = nbtrain.train(
        (X, y), model="linear", loss="cross_entropy", val=0, test=0, epochs=1, batch_size=16384,
        callbacks=[Watch()], display="none",
    )  # fmt: skip
    assert run.status == "completed"
    grown = peak[0] - base[0]
    assert grown <= 0.15 * data, f"peak grew {grown / 1e6:.0f} MB during the epoch; data {data / 1e6:.0f} MB"
