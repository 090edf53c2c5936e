"""%explain in a real IPython shell: what it shows and returns, the stored-run path, and its errors."""

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbtrain
from nbtrain.display.explain import ExplainResult

pytest.importorskip("captum")
pytest.importorskip("pandas")

IRIS = (
    "import numpy as np\nfrom sklearn.datasets import load_iris\nX, y = load_iris(return_X_y=True)\n"
    "y = np.array(['setosa', 'versicolor', 'virginica'])[y]\ndata = (X, y)\n"
)


def test_explain_shows_top_losses_and_confusion_and_returns_the_explanation(shell):
    shell.run("%%train --epochs 2 --lr 0.01 --name ix\n" + IRIS + "preprocess = 'standardize'\nmodel = 'mlp(8)'")
    res, outputs = shell.capture("%explain ix --top 5")
    assert isinstance(res, ExplainResult) and shell.ns["_"] is res
    assert [sorted(o) for o in outputs] == [["text/html", "text/plain"]] * 2
    ex = res.explanation
    assert ex.run is nbtrain.runs["ix"] and ex.on == "test"
    top = ex.top_losses(5)
    lines = outputs[0]["text/plain"].splitlines()
    assert lines[0] == "ix: top 5 losses (test)" and len(lines) == 8  # title, header, 5 rows, note
    assert lines[1].split() == ["index", "target", "prediction", "probability", "loss", "x0", "x1", "x2", "x3"]
    assert [int(line.split()[0]) for line in lines[2:7]] == list(top["index"])
    assert lines[7].strip() == "loss: cross_entropy"
    assert outputs[1]["text/plain"].splitlines()[0] == "ix: most confused (test)"
    # the latest run by default, another split, rows given as --data
    assert shell.run("%explain --on val").explanation.on == "val"
    assert len(shell.run('%explain ix --data "(X[:12], y[:12])"').explanation) == 12


def test_explain_a_stored_run_needs_data_and_loads_it(shell):
    shell.run("%%train --epochs 2 --name sx\n" + IRIS)
    del nbtrain.runs["sx"]  # as after a restart: only the run store has it
    with pytest.raises(UsageError, match=r"comes from the run store and holds no data.*--data"):
        shell.run("%explain sx")
    res = shell.run("%explain sx --data (X[:30],y[:30])")
    assert res.explanation.on == "data" and res.explanation.run.name == "sx"
    np.testing.assert_array_equal(res.explanation.predictions, nbtrain.load("sx").predict(shell.ns["X"][:30]))


def test_explain_errors(shell):
    with pytest.raises(UsageError, match="no runs yet"):
        shell.run("%explain")
    shell.run("%%train --epochs 1 --name ex1\n" + IRIS)
    with pytest.raises(UsageError, match="did you mean 'ex1'"):
        shell.run("%explain ex11")
    with pytest.raises(UsageError, match="k must be a positive integer"):
        shell.run("%explain ex1 --top 0")
    with pytest.raises(UsageError, match="X_new"):
        shell.run('%explain ex1 --data "(X_new, y)"')
    with pytest.raises(UsageError, match="%explain.*unrecognized.*did you mean --importance"):
        shell.run("%explain ex1 --importances")


def test_unload_removes_explain(shell):
    magics = shell.ip.magics_manager.magics["line"]
    assert "explain" in magics
    shell.ip.run_line_magic("unload_ext", "nbtrain")
    assert "explain" not in shell.ip.magics_manager.magics["line"]
    shell.ip.run_line_magic("load_ext", "nbtrain")
    assert "explain" in shell.ip.magics_manager.magics["line"]


def test_explain_a_dataset_run_with_dict_items(shell):
    cell = (
        "%%train --epochs 2 --name dsx\n"
        "import torch\n"
        "class Items(torch.utils.data.Dataset):\n"
        "    def __init__(self):\n"
        "        g = torch.Generator().manual_seed(0)\n"
        "        self.num, self.cat = torch.randn(150, 3, generator=g), torch.randint(0, 4, (150,), generator=g)\n"
        "        self.targets = (self.num[:, 0] > 0).long()\n"
        "    def __len__(self):\n"
        "        return 150\n"
        "    def __getitem__(self, i):\n"
        "        return {'num': self.num[i], 'cat': self.cat[i], 'labels': self.targets[i]}\n"
        "class Two(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.emb, self.lin = torch.nn.Embedding(4, 2), torch.nn.Linear(5, 2)\n"
        "    def forward(self, num, cat):\n"
        "        return self.lin(torch.cat([num, self.emb(cat)], 1))\n"
        "data = Items()\nmodel = Two()\n"
    )
    shell.run(cell)
    res, outputs = shell.capture("%explain dsx --top 3 --importance --repeats 2 --no-progress")
    lines = outputs[0]["text/plain"].splitlines()
    assert lines[1].split()[-2:] == ["num", "cat"]  # each input's entry of the row
    ex = res.explanation
    assert len(ex) == 30 and [int(line.split()[0]) for line in lines[2:5]] == list(ex.top_losses(3)["index"])
    assert outputs[2]["text/plain"] == "<Figure: permutation importance of dsx on test>"


OFFSET = (
    "%%train --epochs 2 --name offx\n"
    "import numpy as np, torch\n"
    "rng = np.random.default_rng(0)\n"
    "ids = rng.integers(0, 10, size=(150, 6))\n"
    "data = (ids, (ids[:, 0] > 4).astype(int))\n"
    "class Offset(torch.nn.Module):  # the ids reach the embedding only after arithmetic\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.emb, self.lin = torch.nn.Embedding(11, 4), torch.nn.Linear(4, 2)\n"
    "    def forward(self, ids):\n"
    "        return self.lin(self.emb(ids + 1).mean(1))\n"
    "model = Offset()\n"
)


def test_explain_layer_names_the_layer_token_ids_are_attributed_through(shell):
    import torch

    shell.run(OFFSET)
    with pytest.raises(UsageError, match=r"%explain: .*reach no nn.Embedding directly.*'emb'"):
        shell.run("%explain offx --attribute --no-progress")
    res, outputs = shell.capture("%explain offx --top 4 --attribute --layer emb --no-progress")
    assert outputs[-1]["text/plain"] == "<Token attributions: integrated gradients of offx's top 4 losses on test>"
    # integrated gradients through the named layer: each row's attributions sum to its logit's gap to the
    # baseline (padding id 0), by captum's completeness, computed here from the model itself
    ex = res.explanation
    idx = [int(i) for i in ex.top_losses(4)["index"]]
    x = np.asarray(ex.take(idx))
    attr = np.asarray(ex.attribute(x, layer="emb", progress=False))
    model = shell.ns["model"].eval()
    with torch.no_grad():
        out, base = model(torch.as_tensor(x)), model(torch.zeros_like(torch.as_tensor(x)))
    k = out.argmax(1)
    gap = (out[torch.arange(4), k] - base[torch.arange(4), k]).numpy()
    np.testing.assert_allclose(attr.sum(1), gap, rtol=0.05, atol=1e-3)
    with pytest.raises(UsageError, match="--layer NAME names the layer for --attribute"):
        shell.run("%explain offx --layer emb")
    with pytest.raises(UsageError, match=r"layer='nope' is not a module of the model; its embedding layers: 'emb'"):
        shell.run("%explain offx --attribute --layer nope --no-progress")
