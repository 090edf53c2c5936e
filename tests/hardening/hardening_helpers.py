"""Helpers shared by the hardening tests (a unique module name: tests have no __init__.py)."""

import io
import os
import zipfile

import numpy as np


def tiny_data(n=60, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = np.arange(n) % classes
    X[:, 0] += y  # learnable
    return X, y


def train_small(**kw):
    import nbtrain

    args = dict(model="mlp(8)", preprocess="standardize", epochs=2, display="none")
    args.update(kw)
    return nbtrain.train(tiny_data(), **args)


def rezip(src: bytes, replace: dict = None, drop=()) -> bytes:
    """Copy a zip archive, replacing some members' bytes and dropping others."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            zout.writestr(name, replace.get(name, zin.read(name)))
        for name, data in replace.items():
            if name not in zin.namelist():
                zout.writestr(name, data)
    return out.getvalue()


def one_line_short(msg: str) -> bool:
    return "\n" not in msg and 0 < len(msg) < 300


def resume_scenario(mode: str, ck: str, kill_at=(4, 3)):
    """Train a small dropout MLP with Adam and a cosine schedule for 6 epochs.

    mode "full": no checkpoint; "killed": checkpointing, SIGKILL of this very process at
    (epoch, batch) = kill_at; "resume": resume from ``ck``.  Returns (state_dict, history rows, status).
    """
    import signal

    import nbtrain

    rng = np.random.default_rng(1)
    X = rng.normal(size=(240, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)

    class Kill(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if (epoch, batch) == tuple(kill_at):
                os.kill(os.getpid(), signal.SIGKILL)  # a killed kernel: no cleanup, no finally

    run = nbtrain.train(
        (X, y),
        model="mlp(16, 16, dropout=0.3)",
        optimizer="adam",
        scheduler="cosine",
        preprocess="standardize",
        epochs=6,
        batch_size=16,
        display="none",
        checkpoint=None if mode == "full" else ck,
        resume=(mode == "resume"),
        callbacks=[Kill()] if mode == "killed" else [],
    )
    return run.model.state_dict(), run.history.rows, run.status
