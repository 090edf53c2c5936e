"""Two IPython sessions, one after the other, as a user restarting a kernel: the second lists, compares
and evaluates the first one's runs."""

import os
import subprocess
import sys

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SETUP = (
    "import torch\ntorch.set_num_threads(1)\nimport nbtrain\n%load_ext nbtrain\n%config NbtrainMagics.display = 'none'"
)
IRIS = "from sklearn.datasets import load_iris\ndata = load_iris(return_X_y=True)\n"


def session(tmp_path, name, cells, store):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in [SETUP, *cells]]
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    env = dict(os.environ, MPLBACKEND="Agg", TERM="dumb", NBTRAIN_STORE=str(store))
    proc = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=nocolor", str(path)],
        capture_output=True,
        text=True,
        timeout=200,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout and "Error" not in proc.stdout, proc.stdout[-3000:]
    return proc


def test_a_later_session_lists_compares_evaluates_and_loads_earlier_runs(tmp_path):
    store = tmp_path / "store"
    first = session(
        tmp_path,
        "first",
        [
            "%%train --epochs 3 --name iris --lr 0.05\n" + IRIS + "preprocess = 'standardize'",
            "res = %evaluate iris\nprint('SAVED', round(res['accuracy'], 4))",
        ],
        store,
    )
    saved = next(line.split()[1] for line in first.stdout.splitlines() if line.startswith("SAVED"))
    second = session(
        tmp_path,
        "second",
        [
            "from IPython.display import display\ntable = %runs\ndisplay(table)",
            "%%train --epochs 1 --name iris\n" + IRIS,
            "both = %compare iris~1 iris\nprint(both)",
            "res = %evaluate iris~1\nprint('AGAIN', round(res['accuracy'], 4))",
            "old = nbtrain.load('iris~1')\nprint('LOADED', len(old.history), old.predict(data[0][:2]).shape)",
        ],
        store,
    )
    out = second.stdout
    assert "Warning" not in second.stderr, second.stderr
    header = next(line for line in out.splitlines() if line.startswith("name "))
    assert header.split() == ["name", "when", "model", "loss", "optimizer", "epochs", "status", "best", "test", "time"]
    row = next(line for line in out.splitlines() if line.startswith("iris "))
    assert "3/3" in row and "completed" in row and f"accuracy={float(saved):.4g}" in row
    compared = next(line for line in out.splitlines() if line.strip().startswith("setting"))
    assert compared.split() == ["setting", "iris~1", "iris"]
    assert f"AGAIN {saved}" in out
    assert "LOADED 3 (2,)" in out
    assert sorted(f.rsplit(".", 1)[1] for f in os.listdir(store)) == ["json", "json", "nbtrain", "nbtrain"]
