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


SPY = """
made = []
class Spy(torch.optim.SGD):
    def __init__(self, params, lr=0.1, **kw):
        super().__init__(params, lr=lr, **kw)
        made.append(self)
"""


def _groups(shell):
    names = {id(p): n for n, p in shell.ns["net"].named_parameters()}
    return [(g["lr"], sorted(names[id(p)] for p in g["params"])) for g in shell.ns["made"][-1].param_groups]


@pytest.mark.parametrize(
    "line, cell",
    [
        ('--lr {"head.*":1e-2,"*":1e-3}', ""),  # a dict literal on the magic line, kept whole by split_line
        ('--lr \'{"head.*": 1e-2, "*": 1e-3}\'', ""),  # quoted, with spaces
        ("", 'lr = {"head.*": 1e-2, "*": 1e-3}\n'),  # or assigned in the cell
    ],
)
def test_layer_wise_learning_rates_from_the_magic_line_or_the_cell(shell, line, cell):
    shell.run(SETUP + SPY)
    shell.run(f"%%train --epochs 1 --name lw {line}\ndata = (X, y)\nmodel = net\noptimizer = Spy\n{cell}")
    import nbtrain

    assert _groups(shell) == [(1e-2, ["head.bias", "head.weight"]), (1e-3, ["body.bias", "body.weight"])]
    assert nbtrain.runs["lw"].config["lr_groups"] == {"head.*": 1e-2, "*": 1e-3}


def test_a_bad_lr_dict_on_the_line_is_one_usage_error(shell):
    from IPython.core.error import UsageError

    shell.run(SETUP)
    with pytest.raises(UsageError, match=r"rates by pattern are a dict of quoted patterns and numbers"):
        shell.run("%%train --epochs 1 --lr {head.*:1e-2}\ndata = (X, y)\nmodel = net")
    with pytest.raises(UsageError, match=r"parameter 'body.weight' matches none of the lr patterns"):
        shell.run('%%train --epochs 1 --lr {"head.*":1e-2}\ndata = (X, y)\nmodel = net')
    with pytest.raises(UsageError, match=r"lr\['\*'\] must be a positive number"):
        shell.run('%%train --epochs 1\ndata = (X, y)\nmodel = net\nlr = {"*": -1}')
