"""nbtrain in a real marimo app, run headless by ``marimo export session`` (marimo's own runtime, no browser).

The training cell's output is what marimo saves for it: the status line, the final plot (PNG) and
the metric table, with nothing in the cell's console; a cell whose last expression is the Run
shows the rich summary (HTML with the plot as PNG and the table).  The live path (updates while the
cell runs, in ``marimo run`` and ``marimo edit``) is tested in ``tests/browser/test_marimo.py``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("marimo")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

APP = """import marimo

app = marimo.App()


@app.cell
def _():
    import numpy as np
    import torch

    import nbtrain

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype("int64")
    return X, nbtrain, y


@app.cell
def _(X, nbtrain, y):
    run = nbtrain.train((X, y), model="mlp(16)", epochs=5, batch_size=32, name="mo_short")
    return (run,)


@app.cell
def _(run):
    run
    return


if __name__ == "__main__":
    app.run()
"""


def _pngs(html: str) -> list:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_export_session_saves_status_plot_table_and_run_summary(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH")) if p))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "MPLCONFIGDIR"):
        env[var] = str(tmp_path / var.lower())
    out = subprocess.run(
        [sys.executable, "-m", "marimo", "export", "session", str(app), "--no-sandbox"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    session = json.loads((tmp_path / "__marimo__" / "session" / "app.py.json").read_text())
    setup, train, show = session["cells"]

    html = train["outputs"][0]["data"]["text/html"]
    assert train["console"] == []  # nothing printed below the cell: it is all in the output
    assert "[mo_short] completed: 5/5 epochs" in html and 'class="nbtrain-status"' in html
    (png,) = _pngs(html)  # the final plot; the live slot of a short run stays empty
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    table = html[html.index('class="nbtrain-table"') :]
    assert table.count("<tr") == 6 and "mo_short: completed, 5/5 epochs" in table  # header + 5 epochs
    assert html.index("nbtrain-status") < html.index("data:image/png") < html.index("nbtrain-table")

    summary = show["outputs"][0]["data"]["text/html"]
    assert summary.startswith('<div class="nbtrain-summary">')
    assert "<b>mo_short</b> &middot; completed &middot; 5/5 epochs" in summary
    (png,) = _pngs(summary)
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert summary.count("<tr") == 6
