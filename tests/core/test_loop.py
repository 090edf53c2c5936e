"""The loop through the public API: events, stop, interrupt, NaN guard, early stopping, resume."""

import signal

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

import nbtrain
from nbtrain import Callback


def blobs(n=200, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 3
    y = rng.integers(0, k, n)
    return (centers[y] + rng.standard_normal((n, d))).astype(np.float32), y


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_fit_start(self, run, **kw):
        self.events.append("fit_start")

    def on_epoch_start(self, run, epoch, **kw):
        self.events.append(f"epoch_start{epoch}")

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        self.events.append(f"batch{epoch}.{batch}/{num_batches}")

    def on_epoch_end(self, run, epoch, logs, **kw):
        assert all(type(v) is float for v in logs.values())  # plain floats, converted once
        self.events.append(f"epoch_end{epoch}")

    def on_fit_end(self, run, status, **kw):
        self.events.append(f"fit_end:{status}")

    def on_interrupt(self, run, reason, **kw):
        self.events.append("interrupt")


def test_event_order():
    rec = Recorder()
    nbtrain.train(blobs(40), epochs=2, batch_size=16, val=0, test=0, callbacks=[rec], display="none")
    assert rec.events == [
        "fit_start",
        "epoch_start1",
        "batch1.1/3",
        "batch1.2/3",
        "batch1.3/3",
        "epoch_end1",
        "epoch_start2",
        "batch2.1/3",
        "batch2.2/3",
        "batch2.3/3",
        "epoch_end2",
        "fit_end:completed",
    ]


def test_history_columns():
    run = nbtrain.train(blobs(), epochs=3, display="none", metrics="accuracy,f1,auc")
    assert run.status == "completed" and len(run.history) == 3
    for key in ("epoch", "train_loss", "val_loss", "val_accuracy", "val_f1", "val_auc", "lr", "time"):
        assert len(run.history[key]) == 3 and all(isinstance(v, float) for v in run.history[key])
    assert run.history["epoch"] == [1.0, 2.0, 3.0]
    with pytest.raises(KeyError, match="columns are"):
        run.history["val_r2"]


def test_same_seed_same_history_bit_for_bit():
    a = nbtrain.train(blobs(), model="mlp(16, dropout=0.2)", epochs=3, display="none", seed=3)
    b = nbtrain.train(blobs(), model="mlp(16, dropout=0.2)", epochs=3, display="none", seed=3)
    c = nbtrain.train(blobs(), model="mlp(16, dropout=0.2)", epochs=3, display="none", seed=4)

    def strip(h):
        return [{k: v for k, v in r.items() if k != "time"} for r in h]

    assert strip(a.history) == strip(b.history)
    assert strip(a.history) != strip(c.history)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)


class StopAt(Callback):
    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        if (epoch, batch) == self.at:
            run.request_stop("test stop")


class InterruptAt(StopAt):
    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        if (epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_stop_request_keeps_finished_epochs():
    rec = Recorder()
    run = nbtrain.train(blobs(), epochs=5, batch_size=16, callbacks=[StopAt(3, 2), rec], display="none")
    assert run.status == "stopped" and len(run.history) == 2
    assert "test stop" in run._stop_reason
    assert rec.events[-2:] == ["interrupt", "fit_end:stopped"]
    assert nbtrain.runs[run.name] is run
    assert run.evaluate()["accuracy"] >= 0  # the model is usable


def test_keyboard_interrupt_returns_stopped_run_and_leaves_sigint_alone():
    before = signal.getsignal(signal.SIGINT)
    run = nbtrain.train(blobs(), epochs=5, batch_size=16, callbacks=[InterruptAt(2, 1)], display="none")
    assert run.status == "stopped" and len(run.history) == 1
    assert signal.getsignal(signal.SIGINT) is before


def test_nan_guard_keeps_last_good_weights():
    X, y = blobs()
    run = nbtrain.train((X, y), model="mlp(8)", optimizer="sgd(lr=1e6)", epochs=5, display="none")
    assert run.status == "failed"
    assert "epoch" in run.error and "step" in run.error and "learning rate" in run.error
    assert all(torch.isfinite(p).all() for p in run.model.parameters())


def test_early_stopping_restores_best():
    X, y = blobs(300)
    run = nbtrain.train((X, y), model="mlp(64)", optimizer="adam(lr=0.05)", epochs=60, patience=3, display="none")
    assert len(run.history) < 60 and "early stopping" in run.note
    best = run.history.best_epoch()
    assert run.best_epoch == best
    # the restored weights reproduce the best epoch's validation loss
    v = run._splits["val"]
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(run.model(v.X), v.y).item()
    assert loss == pytest.approx(run.best()["val_loss"], rel=1e-4)


@pytest.mark.parametrize("sched", [None, "onecycle", "cosine", "step(step_size=2, gamma=0.5)"])
def test_checkpoint_resume_continues_exactly(tmp_path, sched):
    data = blobs()
    kw = dict(
        model="mlp(16, dropout=0.1)",
        optimizer="sgd(lr=0.05, momentum=0.9)",
        scheduler=sched,
        batch_size=16,
        display="none",
    )
    full = nbtrain.train(data, epochs=6, **kw)
    ck = tmp_path / "ck.pt"
    part = nbtrain.train(data, epochs=6, checkpoint=ck, callbacks=[StopAt(4, 1)], **kw)
    assert part.status == "stopped" and len(part.history) == 3
    resumed = nbtrain.train(data, epochs=6, checkpoint=ck, resume=True, **kw)

    def strip(h):
        return [{k: v for k, v in r.items() if k != "time"} for r in h]

    assert strip(resumed.history) == strip(full.history)
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_resume_mismatch_and_missing(tmp_path):
    ck = tmp_path / "ck.pt"
    nbtrain.train(blobs(), epochs=1, checkpoint=ck, display="none")
    with pytest.raises(nbtrain.RunFileError, match="different run"):
        nbtrain.train(blobs(), model="mlp(8)", epochs=2, checkpoint=ck, resume=True, display="none")
    with pytest.raises(nbtrain.RunFileError, match="no checkpoint"):
        nbtrain.train(blobs(), epochs=2, checkpoint=tmp_path / "none.pt", resume=True, display="none")


def test_user_exception_marks_failed_and_propagates():
    class Boom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.training and self.calls > 5:
                raise ValueError("boom in forward")
            return self.lin(x)

    with pytest.raises(ValueError, match="boom"):
        nbtrain.train(blobs(), model=Boom(), epochs=3, display="none", name="b")
    assert nbtrain.runs["b"].status == "failed" and "boom" in nbtrain.runs["b"].error


def test_oom_ends_failed_with_batch_size_hint():
    class OOMAt(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)
            self.calls = 0

        def forward(self, x):
            if self.training:
                self.calls += 1
                if self.calls == 12:
                    raise torch.OutOfMemoryError("simulated")
            return self.lin(x)

    m = OOMAt()
    run = nbtrain.train(blobs(), model=m, epochs=3, batch_size=16, display="none")
    assert run.status == "failed" and "batch size 16" in run.error and "batch_size=8" in run.error
    assert len(run.history) == 1


class InterruptInEpochEnd(Callback):
    def on_epoch_end(self, run, epoch, logs, **kw):
        assert run.history.last == logs  # the row is recorded before views hear of it
        if epoch == 2:
            raise KeyboardInterrupt


def test_interrupt_inside_a_view_keeps_that_epoch():
    run = nbtrain.train(blobs(), epochs=5, callbacks=[InterruptInEpochEnd()], display="none")
    assert run.status == "stopped" and len(run.history) == 2


def test_gd_is_full_batch_gradient_descent():
    # "gd": one step per epoch over the whole training split, whatever batch_size says
    run = nbtrain.train(load_iris(return_X_y=True), optimizer="gd", batch_size=8, epochs=3, display="none")
    assert run.config["batch_size"] == run.config["n_train"] == 90
    assert run.live.step == 3
