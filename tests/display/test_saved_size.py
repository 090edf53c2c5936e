"""What one %%train cell leaves in a saved notebook: at most 60 KB, and live frames never pile up
(nbclient applies every display update, as a front end does, and saves the last state)."""

import json

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipywidgets")

pytestmark = pytest.mark.slow

LIMIT = 60_000  # bytes a %%train cell may add to the .ipynb

SETUP = """\
import torch
torch.set_num_threads(1)
from nbtrain.display.plot import LivePlot
LivePlot.first_after, LivePlot.min_interval, LivePlot.budget = 0.0, 0.05, 0.5  # many live frames
FRAMES = []
_refresh = LivePlot.refresh
def _counted(self, run):
    drawn = _refresh(self, run)
    if drawn is not False:
        FRAMES.append(len(run.history))
    return drawn
LivePlot.refresh = _counted
%load_ext nbtrain"""
TRAIN = """\
%%train --epochs 60 --lr 0.01 --name sized --batch-size 16
from sklearn.datasets import load_digits

data = load_digits(return_X_y=True)
preprocess = "standardize"
model = "mlp(64)"
"""
CHECK = "len(FRAMES) >= 10, nbtrain.runs['sized'].status"


def test_one_train_cell_adds_at_most_60_kb_and_no_live_frame_accumulates(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for var, sub in (("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"), ("JUPYTER_RUNTIME_DIR", "runtime")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, TRAIN, "import nbtrain\n" + CHECK)]
    client = nbclient.NotebookClient(
        nb, timeout=300, startup_timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    assert nb.cells[2].outputs[0].data["text/plain"] == "(True, 'completed')"  # many live frames were sent
    outs = nb.cells[1].outputs
    # the panel's record, the plot slot (its frames replaced in place by the final PNG), the table, the Run
    kinds = [sorted(o.get("data", {})) for o in outs]
    assert kinds == [
        ["text/html", "text/plain"],
        ["image/png", "text/plain"],
        ["text/html", "text/plain"],
        ["text/plain"],
    ]
    assert not any(k == "image/svg+xml" or "widget-view" in k for o in outs for k in o.get("data", {}))
    with_outputs = len(nbformat.writes(nb).encode())
    nb.cells[1].outputs = []
    added = with_outputs - len(nbformat.writes(nb).encode())
    sizes = [{k: len(json.dumps(v)) for k, v in o.get("data", {}).items()} for o in outs]
    print(f"one %%train cell adds {added} bytes to the saved notebook; outputs: {sizes}")
    assert 0 < added <= LIMIT
    assert len(json.dumps(outs)) <= LIMIT
