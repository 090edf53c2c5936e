"""%%sweep in a real ipykernel: the display messages a front end receives (the leaderboard updated in
place through one handle, starting and ending empty; one panel; the report as new outputs)."""

import pytest
from kernel_cells import run_cell as _run

jc_manager = pytest.importorskip("jupyter_client.manager")
pytest.importorskip("optuna")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CELL = """%%sweep --trials 3 --metric val_accuracy --epochs 3 --name k
X, y = load_digits(return_X_y=True)
data = (X[:500], y[:500])
preprocess = "standardize"
model = nbtrain.choice(["mlp(16)", "mlp(32)"])
lr = nbtrain.loguniform(1e-3, 1e-1)
"""


def test_sweep_display_messages_in_a_kernel():
    km, kc = jc_manager.start_new_kernel(kernel_name="python3", startup_timeout=90)
    try:
        _run(kc, "import torch, nbtrain\ntorch.set_num_threads(1)\nfrom sklearn.datasets import load_digits\n"
             "%load_ext nbtrain")  # fmt: skip
        msgs = _run(kc, CELL)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    errors = [c for k, c in msgs if k == "error" or (k == "stream" and c["name"] == "stderr")]
    assert not errors, errors
    shown = [c for k, c in msgs if k == "display_data"]
    handles = [c["transient"]["display_id"] for c in shown if c.get("transient", {}).get("display_id")]
    board, slot = handles[:2]
    assert shown[0]["data"] == {} and shown[0]["transient"]["display_id"] == board
    assert "application/vnd.jupyter.widget-view+json" in shown[1]["data"]  # the one panel with its Stop button
    assert shown[1]["data"]["text/plain"] == "nbtrain sweep panel: k"
    widgets = [c for c in shown if "application/vnd.jupyter.widget-view+json" in c["data"]]
    assert len(widgets) == 1  # reused by every trial, never shown again
    updates = [c for k, c in msgs if k == "update_display_data" and c["transient"]["display_id"] == board]
    assert any("<table" in u["data"].get("text/html", "") for u in updates) and updates[-1]["data"] == {}
    slot_updates = [c["data"] for k, c in msgs if k == "update_display_data" and c["transient"]["display_id"] == slot]
    assert slot_updates and slot_updates[-1] == {}
    report = [c["data"] for c in shown if c["data"].get("text/plain", "").startswith("sweep k: completed")]
    assert len(report) == 1 and "<table" in report[0]["text/html"]
    figures = [c["data"]["text/plain"] for c in shown if "image/png" in c["data"] and not c.get("transient")]
    assert figures == ["<Figure: optimisation history of k>", "<Figure: parameter importances of k>"]
    # a few messages a trial, not a few an epoch: a headless client buffers about a thousand
    assert len(msgs) < 40 * 3, sorted({k for k, _ in msgs})
    result = [c["data"]["text/plain"] for k, c in msgs if k == "execute_result"]
    assert result and result[0].startswith("Sweep('k', completed: 3 completed")
