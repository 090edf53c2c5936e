"""A real kernel (nbclient) runs a %%train cell on a DatasetDict, and %evaluate's table of each class and
its confusion matrix name the classes of its ClassLabel feature."""

import pytest

SETUP = """
import torch, warnings; torch.set_num_threads(1)
import nbtrain
%load_ext nbtrain
%config NbtrainMagics.display = 'none'
import sys; sys.path.insert(0, {here!r})
from hf_helpers import sentiment_dict, tiny_bert, make_tokenizer
tok = make_tokenizer()
dd = sentiment_dict(tok, n=400)
"""

TRAIN = """%%train --epochs 4 --lr 3e-3 --name sentiment
data = dd
model = tiny_bert(tok)
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_train_cell_on_a_dataset_dict_then_evaluate_shows_class_names():
    import os

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    here = os.path.dirname(os.path.abspath(__file__))
    cells = [
        SETUP.format(here=here),
        TRAIN,
        "res = %evaluate sentiment --plot confusion\nres",
        "ax = res.figures[0].figure.axes[0]\nprint(*[t.get_text() for t in ax.get_xticklabels()], sep=',')\n"
        "print(nbtrain.runs['sentiment'].status)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=240, kernel_name="python3").execute()
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.outputs)

    def text(cell):
        parts = []
        for o in cell.outputs:
            parts.append(o.get("text", ""))
            parts.append(o.get("data", {}).get("text/plain", ""))
            parts.append(o.get("data", {}).get("text/html", ""))
        return "".join(parts)

    assert "text" in text(nb.cells[1])  # the one line naming the dropped column
    assert "accuracy" in text(nb.cells[2]) and "confusion matrix of sentiment" in text(nb.cells[2])
    # the table of each class, by the names of the ClassLabel
    shown = text(nb.cells[2])
    assert "sentiment on test: each class" in shown and ">neg</td>" in shown and ">pos</td>" in shown
    assert text(nb.cells[3]).split() == ["neg,pos", "completed"]
