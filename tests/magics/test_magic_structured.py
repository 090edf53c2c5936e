"""``%%train`` with inputs of any structure and targets beyond one label a row (issue 19): a dict of
arrays, a multi-label target, ``collate`` as a declaration; in a real IPython shell and in a real
kernel (nbclient), then ``%evaluate`` and ``%predict`` on those runs."""

import pytest

DICT_CELL = """%%train --epochs 3 --name two_inputs --lr 0.05
import numpy as np, torch
from torch import nn
rng = np.random.default_rng(0)
num = rng.normal(size=(300, 4)).astype("float32")
cat = rng.integers(0, 5, size=300)
y = ((num[:, 0] > 0) | (cat == 4)).astype("int64")

class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(5, 3), nn.Linear(7, 2)
    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], 1))

data = ({"num": num, "cat": cat}, y)
model = TwoInputs()
"""

MULTILABEL_CELL = """%%train --epochs 3 --name tags --task multilabel
import numpy as np
rng = np.random.default_rng(1)
X = rng.normal(size=(300, 5)).astype("float32")
data = (X, np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0], 1).astype("int64"))
model = "mlp(8)"
"""

COLLATE_CELL = """%%train --epochs 1 --name padded --classes 2
import torch
from torch import nn

class Ragged(torch.utils.data.Dataset):
    def __len__(self):
        return 40
    def __getitem__(self, i):
        return torch.full((3 + i % 3,), i % 7, dtype=torch.long), i % 2

def collate(items):
    ids = nn.utils.rnn.pad_sequence([x for x, _ in items], batch_first=True)
    return ids, torch.tensor([y for _, y in items])

class Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.EmbeddingBag(7, 4), nn.Linear(4, 2)
    def forward(self, ids):
        return self.out(self.emb(ids))

data = Ragged()
model = Bag()
"""


def test_dict_of_arrays_cell_then_evaluate_and_predict(shell):
    shell.run(DICT_CELL)
    import nbtrain

    run = nbtrain.runs["two_inputs"]
    assert run.status == "completed" and run._splits["train"].X["cat"].dtype.is_floating_point is False
    metrics = shell.run("%evaluate two_inputs")
    assert 0 <= dict(metrics)["accuracy"] <= 1
    shell.run("new = {'num': num[:4], 'cat': cat[:4]}")
    pred = shell.run("%predict two_inputs new")
    assert list(pred.shape) == [4]


def test_multilabel_cell_then_evaluate_and_predict(shell):
    shell.run(MULTILABEL_CELL)
    import nbtrain

    run = nbtrain.runs["tags"]
    assert run.config["target_kind"] == "multihot" and run.config["loss"] == "bce"
    assert set(dict(shell.run("%evaluate tags"))) == {"accuracy", "f1_micro", "f1_macro", "auc"}
    shell.run("new = X[:3]")
    pred = shell.run("%predict tags new")
    assert pred.shape == (3, 3) and set(pred.ravel()) <= {0, 1}


def test_collate_is_a_declaration(shell):
    shell.run(COLLATE_CELL)
    import nbtrain

    assert nbtrain.runs["padded"].status == "completed"
    # without the declaration the error names the shapes and suggests collate=
    with pytest.raises(Exception, match=r"do not stack.*collate="):
        shell.run(COLLATE_CELL.replace("def collate(items)", "def other(items)").replace("--name padded", "--name p2"))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_in_a_real_kernel_a_dict_of_arrays_and_a_multilabel_target():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import torch; torch.set_num_threads(1)\n%load_ext nbtrain\n%config NbtrainMagics.display = 'none'",
        DICT_CELL,
        "print('accuracy' in nbtrain.runs['two_inputs'].evaluate(), nbtrain.runs['two_inputs'].status)",
        MULTILABEL_CELL,
        "print(nbtrain.runs['tags'].predict(X[:2]).shape, nbtrain.runs['tags'].config['target_kind'])",
    ]
    cells[0] = "import nbtrain\n" + cells[0]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=240, kernel_name="python3").execute()
    texts = ["".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream") for c in nb.cells]
    assert texts[2].strip() == "True completed"
    assert texts[4].strip() == "(2, 3) multihot"
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.outputs)
