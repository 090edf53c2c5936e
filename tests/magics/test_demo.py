"""``python -m nbtrain.demo``: executes a notebook headless, writes it and its HTML, prints the metric table."""

import os

import nbformat
import pytest

from nbtrain.demo import final_metric_table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_demo_runs_a_notebook_and_prints_its_metric_table(tmp_path, capsys):
    from nbtrain.demo import main

    nb_path = _notebook(
        tmp_path / "tiny.ipynb",
        [
            "import torch\ntorch.set_num_threads(1)\n%load_ext nbtrain",
            "%%train --epochs 2 --name tiny --quiet\nfrom sklearn.datasets import load_iris\n"
            "data = load_iris(return_X_y=True)",
            "%evaluate tiny --metrics accuracy,f1",
        ],
    )
    out = tmp_path / "out"
    assert main([str(nb_path), "--out", str(out)]) == 0  # what python -m nbtrain.demo runs
    proc = capsys.readouterr()
    assert f"executed notebook: {out / 'tiny.ipynb'}" in proc.out
    assert f"HTML:              {out / 'tiny.html'}" in proc.out
    executed = nbformat.read(out / "tiny.ipynb", as_version=4)
    table = final_metric_table(executed)
    assert table.splitlines()[:2] == ["tiny on the test split", "metric    value"]
    assert "final metric table:\n" + table in proc.out
    html = (out / "tiny.html").read_text()
    assert "tiny on the test split" in html and "<html" in html


def test_demo_reports_a_failing_cell_briefly(tmp_path, capsys):
    from nbtrain.demo import main

    nb_path = _notebook(tmp_path / "bad.ipynb", ["x = 1", "raise ValueError('broken cell')"])
    assert main([str(nb_path), "--out", str(tmp_path / "out"), "--timeout", "60"]) == 1
    err = capsys.readouterr().err
    assert "a cell of" in err and "broken cell" in err
    assert not (tmp_path / "out" / "bad.ipynb").exists()
    assert main([str(tmp_path / "missing.ipynb")]) == 2 and "no notebook" in capsys.readouterr().err


def test_final_metric_table_reads_the_last_evaluate_output():
    nb = nbformat.read(os.path.join(ROOT, "notebooks", "01_quickstart.ipynb"), as_version=4)
    table = final_metric_table(nb)
    assert table is not None and table.startswith("cancer_mlp on the test split\nmetric")
    assert float(table.split("accuracy")[1].split()[0]) >= 0.95
