"""lr={pattern: rate} (issue 20 item 3): the history records each parameter group's rate (lr, lr_2, ...),
checked against torch's own scheduler on the same groups; the metric table shows them in one column
headed by the patterns (a %%train cell declaring the dict: tests/magics/test_magic_finetune.py)."""

import numpy as np
import pytest
import torch
from torch import nn

import nbtrain
from nbtrain.display.table import MetricTable


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


def _torch_rates(epochs):
    """What torch's StepLR gives two groups (0.01 and 0.001) at the start of each epoch."""
    w = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    opt = torch.optim.SGD([{"params": [w[0]], "lr": 0.01}, {"params": [w[1]], "lr": 0.001}])
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    out = []
    for _ in range(epochs):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.array(out)


def test_each_group_rate_is_in_the_history_and_the_table():
    run = nbtrain.train(
        _data(), model=Net(), lr={"head.*": 0.01, "*": 0.001}, optimizer="sgd", scheduler="step(1, gamma=0.5)",
        epochs=3, display="none",
    )  # fmt: skip
    want = _torch_rates(3)
    assert run.history["lr"] == pytest.approx(want[:, 0].tolist())
    assert run.history["lr_2"] == pytest.approx(want[:, 1].tolist())
    table = repr(MetricTable.from_run(run))
    lines = table.splitlines()
    assert "lr (head.* / *)" in lines[1] and "lr_2" not in table
    assert "0.01 / 0.001" in lines[2] and "0.0025 / 0.00025" in lines[4]


def test_one_group_keeps_the_one_lr_column():
    run = nbtrain.train(_data(), model=Net(), lr=0.01, epochs=2, display="none")
    assert "lr_2" not in run.history.keys()
    header = repr(MetricTable.from_run(run)).splitlines()[1].split()
    assert "lr" in header and "(" not in " ".join(header)
