"""Promise 3: a checkpoint write interrupted at any point (patched write, full disk, killed writer)
leaves the previous checkpoint loadable; a training process killed with SIGKILL resumes from its
last checkpoint and reaches bitwise the same weights as an uninterrupted run (CPU)."""

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from hardening_helpers import resume_scenario, train_small

import nbtrain
from nbtrain import RunFileError
from nbtrain.core import store
from nbtrain.core.store import atomic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _payload(good: bytes, gen: int, pad_mb: float = 0.0) -> dict:
    p = torch.load(io.BytesIO(good), weights_only=True)
    p["epoch"] = gen
    if pad_mb:
        p["pad"] = torch.full((int(pad_mb * 2**20 / 4),), float(gen))
    return p


def _leftovers(folder):
    return [f for f in os.listdir(folder) if f.endswith(".part")]


class _HalfWriter:
    """A file whose write() stores half the data, then fails like a full disk."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
def test_interrupted_checkpoint_write_keeps_previous(fail_at, checkpoint_bytes, tmp_path, monkeypatch):
    path = str(tmp_path / "ck.pt")
    store.save_checkpoint(path, _payload(checkpoint_bytes, 1))
    before = open(path, "rb").read()
    real_fdopen = os.fdopen
    if fail_at == "write":
        monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: _HalfWriter(real_fdopen(fd, mode)))
    elif fail_at == "fsync":

        def fsync(fd):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(atomic.os, "fsync", fsync)
    else:

        def replace(a, b):
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(store.CheckpointWriteError) as err:
        store.save_checkpoint(path, _payload(checkpoint_bytes, 2))
    monkeypatch.undo()
    assert path in str(err.value) and "unchanged" in str(err.value)
    assert open(path, "rb").read() == before
    assert store.load_checkpoint(path)["epoch"] == 1
    assert _leftovers(tmp_path) == []


def test_run_save_on_full_disk_is_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    run = train_small(epochs=1)
    path = run.save(tmp_path / "r.nbtrain")
    before = open(path, "rb").read()
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: _HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(RunFileError, match="No space left on device"):
        run.save(path)
    monkeypatch.undo()
    assert open(path, "rb").read() == before and nbtrain.load(path).task == "classification"


def test_checkpoint_write_failure_during_training_fails_the_run_keeping_everything(tmp_path, monkeypatch):
    """Disk full at epoch 3: the run ends "failed" (returned, registered), epoch 3 is in memory,
    and the checkpoint of epoch 2 is intact."""
    path = str(tmp_path / "ck.pt")
    real_fdopen = os.fdopen

    class FillDisk(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            if epoch == 3:
                monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: _HalfWriter(real_fdopen(fd, mode)))
            return logs

    run = train_small(epochs=5, checkpoint=path, callbacks=[FillDisk()])
    monkeypatch.undo()
    assert run.status == "failed"
    assert "could not write checkpoint" in run.error and "No space left" in run.error, run.error
    assert len(run.history) == 3
    assert nbtrain.runs[run.name] is run
    assert store.load_checkpoint(path)["epoch"] == 2
    assert _leftovers(tmp_path) == []


_FSIZE_SCRIPT = textwrap.dedent("""
    import resource, signal, sys
    sys.path.insert(0, {here!r})
    import nbtrain
    from hardening_helpers import resume_scenario, train_small
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # let write() fail with EFBIG instead of killing us

    class Limit(nbtrain.Callback):
        def on_epoch_start(self, run, epoch, **kw):
            if epoch == 3:   # a real OS limit: files may not grow past 1 KiB from now on
                resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))

    run = train_small(epochs=4, checkpoint={ck!r}, callbacks=[Limit()])
    print("STATUS", run.status, len(run.history))
    print("ERROR", run.error)
""")


def test_real_file_size_limit_mid_training(tmp_path):
    """A real write failure from the OS (RLIMIT_FSIZE -> EFBIG) in a subprocess."""
    ck = str(tmp_path / "ck.pt")
    script = _FSIZE_SCRIPT.format(here=os.path.dirname(__file__), ck=ck)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "STATUS failed 3" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "could not write checkpoint" in out.stdout, out.stdout
    assert store.load_checkpoint(ck)["epoch"] == 2
    assert _leftovers(tmp_path) == []


def test_writer_killed_mid_write_leaves_a_loadable_checkpoint(checkpoint_bytes, tmp_path):
    """A forked writer rewrites a 16 MiB checkpoint in a loop and is SIGKILLed at several moments;
    after every kill the checkpoint is a complete old or new file."""
    ck = str(tmp_path / "ck.pt")
    blobs = {}
    for gen in (1, 2, 3):
        buf = io.BytesIO()
        torch.save(
            dict(_payload(checkpoint_bytes, gen, pad_mb=16), format=store.CKPT_FORMAT, version=store.CKPT_VERSION), buf
        )
        blobs[gen] = buf.getvalue()
    store.atomic_write(ck, blobs[1])
    seen, interrupted = set(), 0
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55):
        pid = os.fork()
        if pid == 0:  # child: only os-level writes, no torch
            try:
                gen = 2
                while True:
                    store.atomic_write(ck, blobs[gen])
                    gen = 5 - gen
            finally:
                os._exit(0)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        payload = store.load_checkpoint(ck)  # always a complete old or new file
        gen = payload["epoch"]
        assert torch.equal(payload["pad"], torch.full_like(payload["pad"], float(gen)))
        seen.add(gen)
        left = _leftovers(tmp_path)
        interrupted += bool(left)  # a temp file left behind: the kill hit mid-write
        for f in left:
            os.unlink(tmp_path / f)
    print(f"generations seen after kills: {sorted(seen)}; kills that hit mid-write: {interrupted}/5")
    assert interrupted >= 1, "no kill landed mid-write; the test did not exercise the fault"


# ----------------------------------------------------------------------------- kill and resume

_KILLED = """
import sys
sys.path.insert(0, sys.argv[2])
import torch
torch.set_num_threads(1)
from hardening_helpers import resume_scenario
resume_scenario("killed", sys.argv[1])
"""


def test_sigkill_then_resume_reaches_the_same_weights(tmp_path):
    ck = str(tmp_path / "ck.pt")
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED, ck, os.path.dirname(__file__)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    assert store.load_checkpoint(ck)["epoch"] == 3, "the last checkpoint is that of the last finished epoch"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as the killed process
    try:
        full_state, full_hist, _ = resume_scenario("full", ck)
        state, hist, status = resume_scenario("resume", ck)
    finally:
        torch.set_num_threads(threads)
    assert status == "completed"
    assert [r["epoch"] for r in hist] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    for k in full_state:
        assert torch.equal(full_state[k], state[k]), f"{k} differs after resume"
    for ra, rb in zip(full_hist, hist):
        assert ra["train_loss"] == rb["train_loss"] and ra["val_loss"] == rb["val_loss"]


def test_resume_keeps_early_stopping_state(tmp_path):
    """Stopped after the best epoch and resumed, a run with patience stops at the same epoch and
    restores the same best weights as an uninterrupted one (the counters travel in the checkpoint)."""
    import numpy as np

    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = (rng.random(80) > 0.5).astype(int)  # noise: the validation loss soon rises

    class StopAt(nbtrain.Callback):
        def __init__(self, at):
            self.at = at

        def on_epoch_end(self, run, epoch, logs, **kw):
            if epoch == self.at:
                run.request_stop("test")
            return logs

    kw = dict(model="mlp(32)", optimizer="adam(lr=0.05)", epochs=30, patience=3, batch_size=16, display="none")
    full = nbtrain.train((X, y), **kw)
    assert full.note and "early stopping" in full.note
    best = full.best_epoch
    assert best is not None and best < len(full.history)
    for stop in (best, best + 1):  # the interesting cases: at and after the best epoch
        ck = str(tmp_path / f"ck{stop}.pt")
        nbtrain.train((X, y), checkpoint=ck, callbacks=[StopAt(stop)], **kw)
        resumed = nbtrain.train((X, y), checkpoint=ck, resume=True, **kw)
        assert len(resumed.history) == len(full.history) and resumed.best_epoch == best
        for k, v in full.model.state_dict().items():
            assert torch.equal(resumed.model.state_dict()[k], v), f"{k} differs (stopped at {stop})"
