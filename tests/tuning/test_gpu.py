"""The finder on a GPU: fp16 with its GradScaler, and CUDA's RNG put back (skipped without CUDA)."""

import pytest
import torch

import nbtrain

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_lr_find_on_cuda_with_fp16_changes_nothing(small_digits):
    torch.cuda.init()
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    cuda_rng = torch.cuda.get_rng_state_all()
    lr = nbtrain.lr_find(small_digits, model=net, preprocess="standardize", device="cuda", amp="fp16", steps=40)
    assert lr > 0 and lr.finding.config["amp"] == "fp16"
    assert next(net.parameters()).device.type == "cpu"  # moved back where it was
    assert all(torch.equal(v, weights[k]) for k, v in net.state_dict().items())
    assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), cuda_rng))
