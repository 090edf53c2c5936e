"""Gradual unfreezing under processes=2 (issue 20 item 3 on the one engine): the frozen parameters stay
as they were on every rank until ``unfreeze_at``, then train, with the ranks in step (DDP reduces their
gradients too) and the result equal to one process's."""

import os

import numpy as np
import pytest
import torch
from dist_helpers import max_weight_diff
from torch import nn

import nbtrain

pytestmark = pytest.mark.timeout(180)


class Net(nn.Module):
    """Writes, at every training forward, its process id and the body's weights to ``log`` (if set)."""

    def __init__(self, log=None):
        super().__init__()
        self.body, self.head = nn.Linear(4, 8), nn.Linear(8, 2)
        self.log = log

    def forward(self, x):
        if self.training and self.log:
            with open(self.log, "a") as f:
                f.write(
                    f"{os.getpid()} {' '.join(f'{v:.9g}' for v in self.body.weight.detach().reshape(-1).tolist())}\n"
                )
        return self.head(torch.relu(self.body(x)))


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


OPTS = dict(
    freeze="body", unfreeze_at=3, epochs=4, batch_size=16, val=0.2, test=0.0, optimizer="adam", lr=0.01,
    display="none",
)  # fmt: skip


def test_frozen_parameters_hold_until_unfreeze_at_then_train_in_step_on_every_rank(tmp_path):
    log = tmp_path / "forwards.txt"
    torch.manual_seed(0)
    net = Net(str(log))
    start = net.body.weight.detach().reshape(-1).numpy().copy()
    run = nbtrain.train(_data(), model=net, processes=2, **OPTS)
    assert run.status == "completed" and run.config["processes"] == 2
    rows = [line.split() for line in log.read_text().splitlines()]
    by_rank: dict = {}
    for pid, *w in rows:
        by_rank.setdefault(pid, []).append(np.array(w, dtype=np.float64))
    assert len(by_rank) == 2 and os.getpid() not in map(int, by_rank)  # the ranks' own forwards
    a, b = by_rank.values()
    steps = 80 // 16  # training rows / global batch: optimizer steps an epoch, each rank a shard of each
    assert len(a) == len(b) == 4 * steps
    for seen in (a, b):
        for w in seen[: 2 * steps + 1]:  # epochs 1-2, and the first step of epoch 3 (it sees the weights before)
            assert np.allclose(w, start, atol=1e-7)
        assert not np.allclose(seen[-1], start, atol=1e-3)  # trained from epoch 3 on
    for wa, wb in zip(a, b):  # the ranks agree at every step: the unfrozen gradients are reduced too
        assert np.allclose(wa, wb, atol=1e-6)
    torch.manual_seed(0)
    one = nbtrain.train(_data(), model=Net(), **OPTS)
    assert max_weight_diff(one.model, run.model) < 1e-4
    assert run.history["val_loss"] == pytest.approx(one.history["val_loss"], rel=1e-4)
