"""Headless execution (nbclient, as nbconvert --execute and papermill do) saves exactly the final
plot and table, and the saved notebook passes strict nbval with a sanitize rule for times."""

import base64
import os
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("nbval")

from nbtrain.display.panel import RECORD_SANITIZE  # noqa: E402
from nbtrain.display.table import TIME_SANITIZE  # noqa: E402

pytestmark = pytest.mark.slow

SETUP = """\
import os
import torch
torch.set_num_threads(1)
import numpy as np
import nbtrain
from nbtrain.display.plot import LivePlot
if os.environ.get("NBTRAIN_TEST_LIVE") == "1":   # live frames even in this short run
    LivePlot.first_after = LivePlot.first_cost = 0.0
    LivePlot.min_interval, LivePlot.budget = 0.0, 0.5
else:                                            # no live frame at all
    LivePlot.first_after = 1e9
rng = np.random.default_rng(0)
X = rng.normal(size=(160, 4)).astype("float32")
y = (X[:, 0] + X[:, 1] > 0).astype("int64")"""
TRAIN = "run = nbtrain.train((X, y), model='mlp(8)', epochs=3, batch_size=16, seed=0)"
CHECK = "run.status, len(run.history)"


def _env(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    for var, sub in (("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"), ("JUPYTER_RUNTIME_DIR", "runtime")):
        env[var] = str(tmp_path / sub)
    return env


def test_saved_notebook_holds_final_plot_and_table_and_passes_strict_nbval(tmp_path, monkeypatch):
    """Executed with live frames, checked by nbval in a run without any: the outputs nbval
    compares do not depend on how long training took."""
    for var, value in _env(tmp_path).items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("NBTRAIN_TEST_LIVE", "1")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, TRAIN, CHECK)]
    client = nbclient.NotebookClient(
        nb, timeout=120, startup_timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    path = tmp_path / "executed.ipynb"
    nbformat.validate(nb)
    nbformat.write(nb, path)

    outs = nb.cells[1].outputs
    assert all(o.output_type == "display_data" for o in outs), [o.output_type for o in outs]
    # the panel's widget was replaced in place by a static record: nothing needs a kernel or widget state
    assert not [o for o in outs if "application/vnd.jupyter.widget-view+json" in o.data]
    records = [o for o in outs if "nbtrain-record" in o.data.get("text/html", "")]
    plots = [o for o in outs if "image/png" in o.data]  # the live slot, its SVG frames replaced by the PNG
    tables = [o for o in outs if "nbtrain-table" in o.data.get("text/html", "")]
    assert not [o for o in outs if dict(o.data) == {}]  # no emptied slot left behind
    assert len(records) == 1 and len(plots) == 1 and len(tables) == 1
    assert len(outs) == 3  # nothing else: no leftovers, no stderr
    assert outs.index(records[0]) < outs.index(plots[0]) < outs.index(tables[0])
    record = records[0].data
    assert set(record) == {"text/plain", "text/html"}
    assert record["text/plain"].startswith("nbtrain panel: run1 | completed: 3/3 epochs in ")
    assert "best val_loss" in record["text/plain"] and "(epoch " in record["text/plain"]
    assert "completed: 3/3 epochs" in record["text/html"] and "best val_loss" in record["text/html"]
    assert plots[0].data["text/plain"] == "<nbtrain plot of run1: train_loss, val_loss, val_accuracy>"
    assert base64.b64decode(plots[0].data["image/png"]).startswith(b"\x89PNG")
    assert not any(k.startswith("image/svg") for o in outs for k in o.data)
    text = tables[0].data["text/plain"]
    assert text.startswith("run1: completed, 3/3 epochs\n") and len(text.splitlines()) == 6
    assert tables[0].data["text/html"].startswith('<table class="nbtrain-table"')
    import re

    assert len(re.findall(TIME_SANITIZE, text)) == 3  # the epoch times: the only varying text
    assert nb.cells[2].outputs[0].data["text/plain"] == "('completed', 3)"

    sanitize = tmp_path / "sanitize.cfg"
    rules = [("epoch times", TIME_SANITIZE, "TIME")] + [
        (f"panel record {i}", regex, replace) for i, (regex, replace) in enumerate(RECORD_SANITIZE)
    ]
    sanitize.write_text("".join(f"[{n}]\nregex: {r}\nreplace: {p}\n" for n, r, p in rules), encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--nbval",
            str(path),
            "--nbval-sanitize-with",
            str(sanitize),
            "--nbval-current-env",
            "--nbval-cell-timeout",
            "120",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(_env(tmp_path), NBTRAIN_TEST_LIVE="0"),
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout
