"""Precision as a null object, AMP on CPU, optional compile, and no host sync per batch."""

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.core.device import AutocastPrecision, Precision, make_precision


def blobs(n=256):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 8)).astype(np.float32)
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


def test_precision_objects():
    assert type(make_precision(None, torch.device("cpu"))) is Precision
    p = make_precision("bf16", torch.device("cpu"))
    assert isinstance(p, AutocastPrecision) and p.scaler is None
    with p.autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")


def test_bf16_autocast_trains_on_cpu():
    run = nbtrain.train(blobs(), model="mlp(16)", epochs=5, lr=0.01, amp="bf16", display="none")
    assert run.status == "completed" and run.config["amp"] == "bf16"
    assert run.evaluate()["accuracy"] > 0.85


def test_no_host_sync_per_batch(monkeypatch):
    """Reading a number from a tensor (item/float/bool/tolist) is a host sync: the loop may do it per epoch,
    never per batch."""
    counts = {"n": 0}
    for name in ("item", "__float__", "__bool__", "tolist", "__int__"):
        orig = getattr(torch.Tensor, name)

        def counting(self, *a, _orig=orig, **k):
            counts["n"] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counting)
    X, y = blobs(2048)
    nbtrain.train(
        (X, y), model="mlp(16)", epochs=3, batch_size=16, val=0.0, test=0.0, metrics=[], display="none"
    )  # 3 x 128 batches
    assert 3 <= counts["n"] <= 3 * 4, counts  # the lower bound proves the counter sees reads


@pytest.mark.slow
def test_compile_option_trains():
    pytest.importorskip("torch._dynamo")
    try:
        run = nbtrain.train(blobs(), model="mlp(8)", epochs=2, compile=True, display="none")
    except Exception as exc:  # no working C++ toolchain for inductor on this machine
        pytest.skip(f"torch.compile unavailable here: {type(exc).__name__}")
    assert run.status == "completed" and run.config["compile"] is True
