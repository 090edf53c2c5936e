"""Test helpers for the display views: a hand clock, a fake run, a small dataset."""

import numpy as np

from nbtrain.core.history import History


class HandClock:
    """A clock tests move by hand (``advance``), optionally also by ``step`` at every read."""

    def __init__(self, t=0.0, step=0.0):
        self.t, self.step, self.reads = t, step, 0

    def __call__(self):
        self.reads += 1
        self.t += self.step
        return self.t

    def advance(self, dt):
        self.t += dt


class FakeLive:
    def __init__(self):
        self.epoch, self.batch, self.num_batches, self.step = 0, 0, 0, 0
        self.value = 1.0
        self.loss_calls = 0

    def loss(self):
        self.loss_calls += 1
        return self.value if self.batch else None


class FakeRun:
    """Just what views read: name, config, history, live, status, best_epoch, error, note."""

    def __init__(self, name="run1", epochs=5, metrics=("accuracy",), monitor="val_loss", rows=()):
        self.name, self.status = name, "running"
        self.config = {
            "epochs": epochs,
            "metrics": list(metrics),
            "monitor": monitor,
            "model": "mlp(8)",
            "loss": "cross_entropy",
            "optimizer": "adam",
            "lr": 0.01,
            "batch_size": 16,
            "device": "cpu",
        }
        self.history = History(rows)
        self.live = FakeLive()
        self.best_epoch = None
        self.error = self.note = None


def row(epoch, train=1.0, val=1.1, acc=0.5, lr=0.01, time=0.25):
    return {"epoch": float(epoch), "train_loss": train, "val_loss": val, "val_accuracy": acc, "lr": lr, "time": time}


def drive(views, run, epochs=3, batches=10, clock=None, dt=0.1, rows=None, status="completed"):
    """Emit the loop's events by hand (no torch): what the loop would call, in its order."""
    views = list(views)
    for v in views:
        v.on_fit_start(run)
    for e in range(1, epochs + 1):
        run.live.epoch, run.live.batch, run.live.num_batches = e, 0, batches
        for v in views:
            v.on_epoch_start(run, epoch=e)
        for b in range(1, batches + 1):
            if clock is not None:
                clock.advance(dt)
            run.live.batch, run.live.step = b, run.live.step + 1
            run.live.value = 2.0 / (e + b / batches)
            for v in views:
                v.on_batch_end(run, epoch=e, batch=b, num_batches=batches)
        logs = rows[e - 1] if rows else row(e, train=2.0 / (e + 1), val=2.1 / (e + 1), acc=0.5 + 0.1 * e)
        for v in views:
            v.on_epoch_end(run, epoch=e, logs=dict(logs))
        run.history.append(logs)
    run.live.batch = 0
    run.status = status
    for v in views:
        v.on_fit_end(run, status=status)
    return run


def blobs(n=160, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype("int64")
    return X, y
