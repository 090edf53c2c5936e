"""Promise 4 (GPU): after a real CUDA out-of-memory error the run is "failed" and the memory the
failed step held is released (``torch.cuda.memory_allocated`` and ``memory_reserved``)."""

import pytest
import torch
from hardening_helpers import tiny_data
from torch import nn

import nbtrain

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

GIB = 2**30


class Hog(nn.Module):
    """Holds ~8 GiB of activations in the failing step, then asks for far more than the GPU has."""

    def __init__(self, at: int):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.at, self.calls = at, 0

    def forward(self, x):
        out = self.lin(x)
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                big = torch.ones(GIB, device=x.device, requires_grad=True) * 2  # 4 GiB held by autograd
                out = out + big[:1].sum()
                torch.empty(4 * 1024 * GIB, dtype=torch.uint8, device=x.device)  # 4 TiB: a real CUDA OOM
        return out


def test_real_cuda_oom_releases_memory():
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base_alloc, base_reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    X, y = tiny_data(n=80)
    run = nbtrain.train((X, y), model=Hog(at=5), epochs=3, batch_size=16, device="cuda", display="none")
    torch.cuda.synchronize()
    alloc, reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    print(
        f"allocated {base_alloc / 2**20:.1f} -> {alloc / 2**20:.1f} MiB, "
        f"reserved {base_reserved / 2**20:.1f} -> {reserved / 2**20:.1f} MiB"
    )
    assert run.status == "failed" and "batch size 16" in run.error and "batch_size=8" in run.error, run.error
    assert len(run.history) == 1
    assert alloc - base_alloc < 256 * 2**20, "the failed step's activations are still allocated"
    assert reserved - base_reserved < GIB, "the caching allocator kept the failed step's memory"
    # the GPU is usable again: the same run can continue on a smaller batch
    run2 = nbtrain.train((X, y), model="mlp(16)", epochs=1, batch_size=8, device="cuda", display="none")
    assert run2.status == "completed"
