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


def test_bf16_needs_native_support_on_the_runs_own_gpu(monkeypatch):
    """is_bf16_supported() is also true where bf16 is emulated (V100, T4); the run's own GPU decides."""
    from nbtrain.core.device import DeviceError

    caps = {0: (9, 0), 1: (7, 0)}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: caps[torch.device(d).index or 0])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: ["H200", "Tesla V100"][torch.device(d).index])
    assert make_precision("bf16", torch.device("cuda", 0)).name == "bf16"
    with pytest.raises(DeviceError, match=r"Tesla V100 is 7\.0.*amp='fp16'"):
        make_precision("bf16", torch.device("cuda", 1))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(nbtrain.DeviceError, match="native bf16") as err:
        nbtrain.train(blobs(), device="cuda:1", amp="bf16", display="none")
    assert "\n" not in str(err.value) and not nbtrain.runs


def test_fused_optimizers_where_torch_has_them(monkeypatch):
    """Fused kernels take GradScaler's inf check on the device: fp16 steps read nothing on the host."""
    from nbtrain.core.optim import build_optimizer, fuse_for

    w = [torch.nn.Parameter(torch.zeros(3))]
    cpu = torch.device("cpu")
    fused = {
        (name, fp16): bool(build_optimizer(name, w, 0.1, cpu, fp16=fp16)[0].param_groups[0].get("fused"))
        for name in ("adam", "sgd", "adagrad", "rmsprop")
        for fp16 in (False, True)
    }
    assert fused == {
        ("adam", False): True,
        ("adam", True): True,
        ("sgd", False): False,  # fp32 SGD on a CPU keeps torch's default kernel (and its rounding)
        ("sgd", True): True,
        ("adagrad", False): False,
        ("adagrad", True): True,
        ("rmsprop", False): False,
        ("rmsprop", True): False,
    }
    opt = build_optimizer("sgd(momentum=0.9)", w, 0.1, cpu)[0]  # as a distributed run's kernel builds it
    assert fuse_for(opt, "sgd", cpu, fp16=True) and not fuse_for(opt, "sgd", cpu, fp16=True)
    assert not fuse_for(torch.optim.SGD(w, lr=0.1), "SGD", cpu, fp16=True)  # a user's optimizer: left alone
    reads = []
    monkeypatch.setattr(torch.Tensor, "item", lambda t: reads.append(1) or 0.0)
    scaler = torch.amp.GradScaler("cpu")
    for _ in range(3):
        scaler.scale((w[0] * torch.arange(3.0)).sum()).backward()
        scaler.step(opt)
        scaler.update()
    assert reads == [] and float(w[0].detach().abs().max()) > 0


def test_fp16_on_a_torch_without_amp_grad_scaler_is_a_clear_error(monkeypatch):
    monkeypatch.delattr(torch.amp, "GradScaler")
    with pytest.raises(nbtrain.ConfigError, match="needs torch 2.3 or newer"):
        make_precision("fp16", torch.device("cpu"))
