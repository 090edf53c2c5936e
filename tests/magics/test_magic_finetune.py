"""%%train --freeze / --unfreeze-at / --keep-columns in a real IPython shell (issue 20)."""

import pytest
import torch

SETUP = """
import numpy as np, torch
from torch import nn
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 4)).astype(np.float32)
y = (X[:, 0] > 0).astype(int)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
    def forward(self, x):
        return self.head(torch.relu(self.body(x)))
torch.manual_seed(0)
net = Net()
before = net.body.weight.detach().clone()
"""


def test_freeze_body_from_a_cell_trains_only_the_head(shell):
    shell.run(SETUP)
    shell.run("%%train --epochs 2 --freeze body --name frozen\ndata = (X, y)\nmodel = net")
    import nbtrain

    run = nbtrain.runs["frozen"]
    ns = shell.ns
    assert torch.equal(ns["net"].body.weight, ns["before"])
    assert run.config["trainable_params"] == 8 * 2 + 2


def test_unfreeze_at_and_patterns_from_a_cell(shell):
    shell.run(SETUP)
    shell.run("%%train --epochs 3 --freeze 'body.*' --unfreeze-at 3 --name thawed\ndata = (X, y)\nmodel = net")
    assert not torch.equal(shell.ns["net"].body.weight, shell.ns["before"])


def test_keep_columns_from_a_cell(shell, tmp_path):
    pytest.importorskip("datasets", reason="--keep-columns needs datasets (pip install 'nbtrain[hf]')")
    shell.run(
        "import torch\nfrom torch import nn\nfrom datasets import Dataset\n"
        "seen = []\n"
        "class Ids(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.emb = nn.EmbeddingBag(10, 2)\n"
        "    def forward(self, input_ids):\n"
        "        return self.emb(input_ids)\n"
        "ds = Dataset.from_dict({'input_ids': [[i % 10, (i + 1) % 10] for i in range(60)], 'note': ['x'] * 60,"
        " 'label': [i % 2 for i in range(60)]})\n"
        "def collate(items):\n"
        "    seen.append(sorted(items[0]))\n"
        "    return {'input_ids': torch.stack([i['input_ids'] for i in items]),"
        " 'labels': torch.stack([i['labels'] for i in items])}\n"
    )
    shell.run("%%train --epochs 1 --keep-columns note --name kept\ndata = ds\nmodel = Ids()\ncollate = collate")
    assert shell.ns["seen"][0] == ["input_ids", "labels", "note"]


def test_a_cell_declares_rates_by_pattern_and_the_history_has_each(shell):
    shell.run(SETUP)
    shell.run("%%train --epochs 2 --name groups\ndata = (X, y)\nmodel = net\nlr = {'head.*': 0.01, '*': 0.001}")
    import nbtrain

    run = nbtrain.runs["groups"]
    assert run.history["lr"] == [0.01, 0.01] and run.history["lr_2"] == [0.001, 0.001]
    assert run.config["lr_groups"] == {"head.*": 0.01, "*": 0.001}


def test_runs_shows_trainable_and_total_parameters(shell):
    shell.run(SETUP)
    shell.run("%%train --epochs 1 --freeze body --name part\ndata = (X, y)\nmodel = net")
    lines = repr(shell.run("%runs")).splitlines()
    assert "params" in lines[1].split()
    row = next(line for line in lines if line.split()[0] == "part")
    assert f"{8 * 2 + 2} / {4 * 8 + 8 + 8 * 2 + 2} trainable" in row
