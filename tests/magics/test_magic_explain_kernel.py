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
