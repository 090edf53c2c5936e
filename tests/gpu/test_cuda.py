"""GPU checks; skipped without CUDA (CI has none).  The prepared GPU check is scripts/gpu_check.py;
tests/gpu/test_gpu_check.py runs its checks under pytest."""

import numpy as np
import pytest
import torch

import nbtrain

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 16)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_auto_picks_cuda_and_data_is_resident_while_training():
    where = []

    class Seen(nbtrain.Callback):
        def on_fit_start(self, run, **kw):
            where.append(run._splits["train"].X.device.type)

    run = nbtrain.train(data(), model="mlp(32)", epochs=2, display="none", callbacks=[Seen()])
    assert run.device.type == "cuda" and where == ["cuda"]
    assert not run._splits["train"].X.is_cuda  # a finished run keeps no device copy of the data
    assert next(run.model.parameters()).is_cuda


def test_host_resident_data_trains_the_same():
    a = nbtrain.train(data(), model="mlp(32)", epochs=3, display="none")
    b = nbtrain.train(data(), model="mlp(32)", epochs=3, display="none", data_device="cpu")
    assert b.config["data_device"] == "cpu" and a.config["data_device"] == "device"
    assert np.allclose(a.history["train_loss"], b.history["train_loss"], rtol=1e-5)


def test_cuda_resident_dataset_trains():
    X, y = (torch.from_numpy(v).cuda() for v in data())
    run = nbtrain.train(torch.utils.data.TensorDataset(X, y), model="mlp(8)", epochs=1, display="none")
    assert run.status == "completed" and run.evaluate()["accuracy"] > 0.5


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_trains(amp):
    run = nbtrain.train(data(), model="mlp(32)", epochs=5, lr=0.01, amp=amp, display="none")
    assert run.status == "completed" and run.evaluate()["accuracy"] > 0.9


def test_cuda_matches_cpu_closely():
    a = nbtrain.train(data(), model="mlp(32)", epochs=3, device="cpu", display="none")
    b = nbtrain.train(data(), model="mlp(32)", epochs=3, device="cuda", display="none")
    assert np.allclose(a.history["train_loss"], b.history["train_loss"], rtol=1e-3)


def test_real_oom_releases_memory():
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    huge = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1 << 20), torch.nn.Linear(1 << 20, 2))
    free, total = torch.cuda.mem_get_info()
    n = int(free // (4 * (1 << 20))) + 10  # activations of one batch exceed free memory
    X = np.zeros((n, 16), np.float32)
    y = np.arange(n) % 2
    run = nbtrain.train((X, y), model=huge, epochs=1, batch_size=n, val=0, test=0, display="none")
    assert run.status == "failed" and "batch size" in run.error
    del huge, run
    import gc

    gc.collect()
    torch.cuda.empty_cache()
    assert torch.cuda.memory_allocated() - base < 64 << 20
