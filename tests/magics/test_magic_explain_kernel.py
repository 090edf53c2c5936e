"""%explain in real kernels (nbclient): static outputs a saved notebook keeps, and a stored run explained
in a new kernel (after a restart), loaded by name from the run store."""

import base64
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("captum")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SETUP = """\
import torch
torch.set_num_threads(1)
import numpy as np
from sklearn.datasets import load_iris
X, y = load_iris(return_X_y=True)
y = np.array(["setosa", "versicolor", "virginica"])[y]
%load_ext nbtrain
%config NbtrainMagics.display = 'none'"""


def _execute(cells, tmp_path, name):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    client = nbclient.NotebookClient(
        nb,
        timeout=180,
        startup_timeout=90,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)  # what a reopened notebook holds


def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("NBTRAIN_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for var, sub in (("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"), ("JUPYTER_RUNTIME_DIR", "runtime")):
        monkeypatch.setenv(var, str(tmp_path / sub))


def test_explain_renders_static_outputs_and_works_for_a_stored_run_after_a_restart(tmp_path, monkeypatch):
    _env(monkeypatch, tmp_path)
    train = "%%train --epochs 2 --lr 0.01 --name kx\ndata = (X, y)\npreprocess = 'standardize'\nmodel = 'mlp(8)'"
    nb = _execute([SETUP, train, "%explain kx --top 4 --importance --repeats 2 --attribute"], tmp_path, "first")
    outs = nb.cells[2].outputs
    assert [o.output_type for o in outs] == ["display_data"] * 4, [o.get("text") for o in outs]
    top, confused, importance, attribution = (o.data for o in outs)
    assert set(top) == {"text/plain", "text/html"} and top["text/plain"].startswith("kx: top 4 losses (test)")
    assert top["text/html"].startswith('<table class="nbtrain-table"')
    assert confused["text/plain"].startswith("kx: most confused (test)")
    for fig in (importance, attribution):
        assert set(fig) == {"text/plain", "image/png"}
        assert base64.b64decode(fig["image/png"]).startswith(b"\x89PNG")
    assert importance["text/plain"] == "<Figure: permutation importance of kx on test>"
    assert not any("widget" in k for o in outs for k in o.data)

    # a new kernel: the run comes from the run store, its weights loaded by name; the rows are given
    later = _execute([SETUP, '%explain kx --data "(X[:40], y[:40])" --top 3', "%explain kx"], tmp_path, "second")
    outs = later.cells[1].outputs
    assert [o.output_type for o in outs] == ["display_data"] * 2, [o.get("text") for o in outs]
    assert outs[0].data["text/plain"].startswith("kx: top 3 losses (data)")
    assert len(outs[0].data["text/plain"].splitlines()) >= 5  # title, header, three rows
    (err,) = later.cells[2].outputs  # a UsageError: one line on stderr, no traceback
    assert err.output_type == "stream" and err.name == "stderr"
    assert err.text.startswith("UsageError: %explain: run 'kx' comes from the run store and holds no data")
    assert "--data (X_test, y_test)" in err.text
    assert os.path.isdir(tmp_path / "store")


TOKENS = """\
import torch
torch.set_num_threads(1)
import numpy as np
VOCAB = ["[PAD]", "[CLS]", "good", "great", "bad", "awful", "the", "movie", "was", "a", "plot"]
rng = np.random.default_rng(0)
ids = np.zeros((300, 8), dtype=np.int64)
y = rng.integers(0, 2, size=300)
for i in range(300):
    k = int(rng.integers(3, 8))
    row = [1] + list(rng.integers(6, len(VOCAB), size=k - 2))
    row.insert(int(rng.integers(1, k)), int(rng.choice([2, 3] if y[i] else [4, 5])))
    ids[i, :k] = row
labels = np.array(["neg", "pos"])[y]

class Bag(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(len(VOCAB), 8, mode="mean", padding_idx=0)
        self.out = torch.nn.Linear(8, 2)

    def forward(self, ids):
        return self.out(self.emb(ids))

%load_ext nbtrain
%config NbtrainMagics.display = 'none'"""


def test_explain_shows_token_runs_as_text_and_coloured_tokens(tmp_path, monkeypatch):
    _env(monkeypatch, tmp_path)
    train = "%%train --epochs 3 --lr 0.05 --name words\ntorch.manual_seed(0)\ndata = (ids, labels)\nmodel = Bag()"
    cell = "%explain words --top 3 --attribute --tokenizer VOCAB --no-progress"
    nb = _execute([TOKENS, train, cell], tmp_path, "tokens")
    outs = nb.cells[2].outputs
    assert [o.output_type for o in outs] == ["display_data"] * 3, [o.get("text") for o in outs]
    top, _, tokens = (o.data for o in outs)
    assert top["text/plain"].splitlines()[1].split()[-1] == "text"  # the decoded rows, not the ids
    assert "[PAD]" not in top["text/plain"] and "[CLS]" not in top["text/plain"]
    assert set(tokens) == {"text/plain", "text/html"}
    assert tokens["text/plain"] == "<Token attributions: integrated gradients of words's top 3 losses on test>"
    html = tokens["text/html"]
    assert html.startswith('<div class="nbtrain-tokens"') and html.count('class="nbtrain-token special"') == 3
    assert "[PAD]" not in html and "nbtrain-token-legend" in html
    assert "(each row: true / predicted)" in html  # which label of "row 52: pos / neg" is which
