"""compile=True: the ragged last batch causes no recompile, validation and snapshots use the original
module, checkpoints carry clean keys, and a run resumes whichever way compile is set.

torch.compile runs with the "eager" backend here: dynamo captures and counts graphs exactly as with
inductor, without a C++ toolchain or minutes of compiling on a CPU machine."""

import functools

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.core import store

dynamo = pytest.importorskip("torch._dynamo")
from torch._dynamo.utils import counters  # noqa: E402


@pytest.fixture
def eager_compile(monkeypatch):
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    dynamo.reset()
    counters.clear()
    yield counters
    dynamo.reset()


def data(n=100):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 5)).astype(np.float32)
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


def test_ragged_last_batch_and_validation_do_not_recompile(eager_compile):
    # 60 training rows, batch 16: the last batch has 12 rows; validation runs in chunks of 1024
    run = nbtrain.train(data(), model="mlp(8)", epochs=3, batch_size=16, compile=True, display="none")
    assert run.status == "completed" and len(run.history) == 3
    assert eager_compile["stats"]["unique_graphs"] == 1, dict(eager_compile["stats"])
    assert eager_compile["frames"]["total"] == 1, dict(eager_compile["frames"])
    assert not any(k.startswith("_orig_mod.") for k in run.model.state_dict())


@pytest.mark.parametrize("first, then", [(True, False), (False, True)])
def test_resume_works_whichever_way_compile_is_set(first, then, eager_compile, tmp_path):
    class StopAt(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            if epoch == 3:
                run.request_stop("test")

    kw = dict(model="mlp(16)", optimizer="adam(lr=0.05)", epochs=6, patience=2, batch_size=16, display="none")
    ck = str(tmp_path / "ck.pt")
    part = nbtrain.train(data(), checkpoint=ck, compile=first, callbacks=[StopAt()], **kw)
    assert part.status == "stopped"
    saved = store.load_checkpoint(ck)
    for state in (saved["model"], saved["early"]["state"]):
        assert state and not any(k.startswith("_orig_mod.") for k in state), list(state)[:3]
    resumed = nbtrain.train(data(), checkpoint=ck, resume=True, compile=then, **kw)
    full = nbtrain.train(data(), **kw)
    assert resumed.status == "completed", resumed.error
    assert [r["epoch"] for r in resumed.history] == [r["epoch"] for r in full.history]
    for k, v in full.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[k], v, atol=1e-6), k


def test_a_checkpoint_with_compiled_keys_still_resumes(tmp_path):
    """Checkpoints written before this fix held the compiled module's ``_orig_mod.`` keys in the
    early-stopping state; they load into the original module."""

    class StopAt(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            if epoch == 2:
                run.request_stop("test")

    kw = dict(model="mlp(8)", epochs=5, patience=3, batch_size=16, display="none")
    ck = str(tmp_path / "ck.pt")
    nbtrain.train(data(), checkpoint=ck, callbacks=[StopAt()], **kw)
    payload = store.load_checkpoint(ck)
    payload["early"]["state"] = {"_orig_mod." + k: v for k, v in payload["early"]["state"].items()}
    del payload["early"]["epoch"]  # the old format had no best epoch in it
    store.save_checkpoint(ck, payload)
    resumed = nbtrain.train(data(), checkpoint=ck, resume=True, **kw)
    assert resumed.status == "completed" and resumed.best_epoch is not None


def test_compile_where_this_torch_cannot_is_one_clear_error(monkeypatch):
    def unsupported(model, **kw):
        raise RuntimeError("Dynamo is not supported on Python 3.14+")

    monkeypatch.setattr(torch, "compile", unsupported)
    with pytest.raises(nbtrain.ConfigError, match="compile=True is not available with torch") as err:
        nbtrain.train(data(), model="mlp(8)", epochs=1, compile=True, display="none")
    assert "Python 3.14" in str(err.value) and not nbtrain.runs
