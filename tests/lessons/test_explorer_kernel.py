"""An explore panel in a real kernel (nbclient, as nbconvert --execute does): shown, it saves its
default figure and numbers as plain outputs; a moved control (here set from a later cell) replaces
them in place through their display ids, and adds no output anywhere."""

import base64
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipywidgets")

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SHOW = """\
import numpy as np
from nbtrain.lessons import threshold_explorer
rng = np.random.default_rng(0)
y = rng.integers(0, 2, 300)
score = np.clip(0.35 * y + 0.65 * rng.random(300), 0, 1)
panel = threshold_explorer(y, score)
panel"""
MOVE = "panel.controls['threshold'].value = 0.2"


def test_panel_saves_default_state_then_updates_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for var, sub in (("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"), ("JUPYTER_RUNTIME_DIR", "runtime")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SHOW)]
    client = nbclient.NotebookClient(
        nb, timeout=120, startup_timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        default = [dict(o.data) for o in nb.cells[0].outputs]
        nb.cells.append(nbformat.v4.new_code_cell(MOVE))
        client.execute_cell(nb.cells[1], 1)
    moved = [dict(o.data) for o in nb.cells[0].outputs]

    assert [o.output_type for o in nb.cells[0].outputs] == ["display_data"] * 3
    assert default[0]["text/plain"] == "nbtrain explore panel: Decision threshold"
    assert "application/vnd.jupyter.widget-view+json" in default[0]
    assert base64.b64decode(default[1]["image/png"]).startswith(b"\x89PNG")
    assert default[2]["text/plain"].startswith("threshold 0.50\n")
    assert moved[2]["text/plain"].startswith("threshold 0.20\n")  # replaced, not appended
    assert moved[1]["image/png"] != default[1]["image/png"]
    assert nb.cells[1].outputs == []  # the move itself prints nothing
