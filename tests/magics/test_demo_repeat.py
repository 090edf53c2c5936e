"""``make demo`` twice gives the same output (issue 23): the demo's kernel keeps its runs in a run store
of its own, so the second execution's ``%runs`` does not list the first's runs as ``name~1``."""

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(200)]


def test_a_second_demo_shows_the_same_runs(tmp_path, capsys):
    from nbtrain.demo import main

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(c)
        for c in (
            "import torch\ntorch.set_num_threads(1)\n%load_ext nbtrain",
            "%%train --epochs 1 --name tiny --quiet\nfrom sklearn.datasets import load_iris\n"
            "data = load_iris(return_X_y=True)",
            "%runs",
        )
    ]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    names = []
    for k in range(2):
        assert main([str(path), "--out", str(tmp_path / f"out{k}")]) == 0
        executed = nbformat.read(tmp_path / f"out{k}" / "tiny.ipynb", as_version=4)
        text = executed.cells[2].outputs[0]["data"]["text/plain"]
        names.append([line.split()[0] for line in text.splitlines()[2:]])
    capsys.readouterr()
    assert names[0] == names[1] == ["tiny"]
    assert not (tmp_path / ".nbtrain").exists()  # nothing written beside the notebook
