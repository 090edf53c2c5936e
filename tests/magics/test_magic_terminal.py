"""Terminal IPython (``ipython notebook.ipynb``): the magics print text, with no widget or image noise."""

import os
import subprocess
import sys

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_terminal_ipython_shows_text(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(c)
        for c in [
            "import torch\ntorch.set_num_threads(1)\n%load_ext nbtrain",
            "%%train --epochs 2 --name term\nfrom sklearn.datasets import load_iris\ndata = load_iris(return_X_y=True)",
            "import nbtrain\nprint(nbtrain.runs['term'])",
            "from IPython.display import display\n"
            "res = %evaluate term --plot confusion\ndisplay(res)\nprint(dict(res))",
            "table = %runs\ndisplay(table)",
        ]
    ]
    path = tmp_path / "term.ipynb"
    nbformat.write(nb, path)
    env = dict(os.environ, MPLBACKEND="Agg", TERM="dumb")
    proc = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=nocolor", str(path)],
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
        cwd=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Run('term', completed, 2/2 epochs" in out
    assert "epoch" in out and "train_loss" in out  # the text epoch table / progress
    assert "term on the test split\nmetric     value\naccuracy" in out
    assert "<Figure: confusion matrix of term on test>" in out  # an image shows as its text form
    assert "{'accuracy':" in out  # the dict twin
    assert "completed" in out.split("runs\n")[-1]
    for noise in ("<Figure size", "VBox(", "HBox(", "Output()", "image/png", "widget"):
        assert noise not in out, noise
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
