"""Every lesson 02-07 (and 11) has something to explore: a panel from nbtrain.lessons, saved in its default
state (the figure as a PNG and the numbers as text, so nbval compares them), after text that says
what to try."""

import os

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LESSONS = [
    "02_preprocessing",
    "03_model_selection",
    "04_loss_functions",
    "05_optimizers",
    "06_evaluation",
    "07_devices_and_speed",
    "11_text",
]


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_has_a_panel_saved_in_its_default_state(name):
    nb = nbformat.read(os.path.join(ROOT, "notebooks", f"{name}.ipynb"), as_version=4)
    panels = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "from nbtrain.lessons import" in c.source]
    assert panels, f"{name} has nothing to explore"
    for i in panels:
        kinds = [o.get("data", {}) for o in nb.cells[i].outputs]
        assert any("application/vnd.jupyter.widget-view+json" in d for d in kinds), f"{name} cell {i}: no controls"
        assert any("image/png" in d for d in kinds), f"{name} cell {i}: the default figure is not saved"
        summary = [d for d in kinds if "nbtrain-explore-summary" in d.get("text/html", "")]
        assert summary and "error" not in summary[0]["text/plain"].split("\n")[0], f"{name} cell {i}: {summary}"
        text = nb.cells[i - 1].source
        assert nb.cells[i - 1].cell_type == "markdown" and "**Try:**" in text, f"{name} cell {i}: say what to try"


def test_optimizer_lesson_points_to_the_sweep_magics():
    nb = nbformat.read(os.path.join(ROOT, "notebooks", "05_optimizers.ipynb"), as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "This double loop is what `%%sweep` does for you" in text and "`%%lr_find`" in text
