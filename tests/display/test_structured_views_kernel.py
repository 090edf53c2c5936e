"""The live views on structured runs in a real kernel (issue 19 item 6): the panel's record, the plot and
the metric table of a multi-label run, a run on a dict of inputs and a segmentation run, with the
metric names each shows (f1_micro, f1_macro, auc, subset accuracy said so; iou for masks)."""

import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SETUP = """\
import torch; torch.set_num_threads(1)
import numpy as np, nbtrain
from torch import nn
from nbtrain.display.plot import LivePlot
LivePlot.first_after = LivePlot.first_cost = 0.0      # live frames even in these short runs
LivePlot.min_interval, LivePlot.budget = 0.0, 0.5
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 5)).astype("float32")
Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0], 1).astype("int64")
num = rng.normal(size=(300, 4)).astype("float32")
cat = rng.integers(0, 5, size=300)
y2 = ((num[:, 0] > 0) | (cat == 4)).astype("int64")
class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(5, 3), nn.Linear(7, 2)
    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], 1))
img = rng.normal(size=(200, 1, 6, 6)).astype("float32")
mask = (img[:, 0] > 0.3).astype("int64")
mask[:, 0, :] = -100
%load_ext nbtrain"""
CELLS = [
    SETUP,
    "%%train --epochs 3 --name ml --task multilabel --metrics accuracy,f1_micro,f1_macro,auc\n"
    "data = (X, Y)\nmodel = 'mlp(8)'",
    "%%train --epochs 3 --name two\ndata = ({'num': num, 'cat': cat}, y2)\nmodel = TwoInputs()",
    "%%train --epochs 3 --name seg --lr 0.05\ndata = (img, mask)\nmodel = nn.Conv2d(1, 2, 1)",
]


def _views(cell) -> dict:
    """The cell's panel record, plot and metric table (text/plain), by what they are."""
    out = {}
    for o in cell.outputs:
        text = o.get("data", {}).get("text/plain", "")
        if text.startswith("nbtrain panel:"):
            out["panel"] = text
        elif text.startswith("<nbtrain plot of"):
            out["plot"] = text
            assert "image/png" in o.data
        elif "epoch  train_loss" in text:
            out["table"] = text
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("views")
    env = {"MPLBACKEND": "Agg", "IPYTHONDIR": str(tmp / "ipython"), "MPLCONFIGDIR": str(tmp / "mpl")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        nbclient.NotebookClient(nb, timeout=240, kernel_name="python3").execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert not [o for c in nb.cells for o in c.outputs if o.output_type in ("error", "stream")]
    return [_views(c) for c in nb.cells]


def _header(table: str) -> list:
    return table.splitlines()[1].split()


def test_a_multilabel_run_shows_its_own_metrics_and_says_accuracy_is_subset_accuracy(executed):
    views = executed[1]
    assert set(views) == {"panel", "plot", "table"}
    assert views["panel"].startswith("nbtrain panel: ml | completed: 3/3 epochs")
    assert views["plot"] == "<nbtrain plot of ml: train_loss, val_loss, val_accuracy>"
    header = _header(views["table"])
    assert header[:3] == ["epoch", "train_loss", "val_loss"]
    assert ["val_accuracy", "val_f1_micro", "val_f1_macro", "val_auc"] == header[3:7]
    assert "accuracy is subset accuracy: a row counts when all its labels are right" in views["table"]


def test_a_dict_input_run_shows_the_one_label_metrics_without_a_note(executed):
    views = executed[2]
    assert views["plot"] == "<nbtrain plot of two: train_loss, val_loss, val_accuracy>"
    assert _header(views["table"])[3:5] == ["val_accuracy", "val_f1"]
    assert "subset" not in views["table"] and "positions" not in views["table"]


def test_a_segmentation_run_shows_iou_and_says_positions_count_only_when_labelled(executed):
    views = executed[3]
    assert views["plot"] == "<nbtrain plot of seg: train_loss, val_loss, val_accuracy>"
    assert _header(views["table"])[3:5] == ["val_accuracy", "val_iou"]
    assert "metrics count labelled positions only (-100 left out)" in views["table"]
