"""The lessons' explore panels (notebooks 02-07 and 11) in JupyterLab, driven by headless Chromium.

For each lesson: open a copy of the notebook (outputs cleared, and ending at its last panel: the
cells after it cannot matter to a panel and only cost time), Run All, wait for the panel's cell,
move one control as a learner would (a dropdown, toggle buttons or a slider's handle), and check
that the figure (the image's data) and the numbers under it change.  One Lab server serves every
lesson (a module fixture); each lesson's kernel is shut down after its test.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from servers import ARTIFACTS, Lab, new_page

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(240)

KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}"""


class LessonLab(Lab):
    """A Lab server whose kernels keep their runs in a private store."""

    def extra_env(self) -> dict:
        return {"NBTRAIN_STORE": str(self.tmp / "store")}


@pytest.fixture(scope="module")
def lessons_lab(chromium_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("lessons-root")
    for src in sorted((ROOT / "notebooks") / name for name in LESSONS):
        nb = _up_to_last_panel(nbformat.read(str(src), as_version=4))
        for c in nb.cells:
            if c.cell_type == "code":
                c.outputs, c.execution_count = [], None
        nbformat.write(nb, str(root / src.name))
    server = LessonLab(root, tmp_path_factory.mktemp("lessons-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lesson_page(browser, lessons_lab, request):
    with new_page(browser, request) as pg:
        yield pg
    lessons_lab.end_sessions()


def _is_panel(cell):
    return cell.cell_type == "code" and "from nbtrain.lessons import" in cell.source


def _up_to_last_panel(nb):
    last = max(i for i, c in enumerate(nb.cells) if _is_panel(c))
    nb.cells = nb.cells[: last + 1]
    return nb


def _explorer_cells(name):
    nb = _up_to_last_panel(nbformat.read(str(ROOT / "notebooks" / name), as_version=4))
    code = [c for c in nb.cells if c.cell_type == "code"]
    return len(code), [i for i, c in enumerate(code) if "from nbtrain.lessons import" in c.source]


def _run_all(page, lab, name, n_cells):
    page.goto(lab.url(name))
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    cells.nth(n_cells - 1).wait_for(state="attached")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    first = cells.first.locator(".jp-InputArea-prompt")
    for _ in range(3):  # a Run All right after load can be lost: check a prompt changed
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        try:
            page.wait_for_function(
                "(el) => el.textContent.trim() !== '[ ]:'", arg=first.element_handle(), timeout=5_000
            )
            return cells
        except Exception:
            continue
    raise AssertionError("Run All did not start")


def _state(cell):
    img = cell.locator(".jp-OutputArea-output.jp-RenderedImage img").first
    return img.get_attribute("src"), cell.locator(".nbtrain-explore-summary").first.text_content()


def _wait_panel(page, cell, timeout=180_000):
    cell.wait_for(state="attached")
    prompt = cell.locator(".jp-InputArea-prompt")
    page.wait_for_function("(el) => /\\[\\d+\\]:/.test(el.textContent)", arg=prompt.element_handle(), timeout=timeout)
    cell.locator(".nbtrain-explore").first.wait_for(state="attached", timeout=30_000)
    cell.scroll_into_view_if_needed()
    cell.locator(".nbtrain-explore-summary").first.wait_for(state="attached", timeout=30_000)
    return _state(cell)


def _changed(page, cell, before, timeout=15_000):
    end = time.monotonic() + timeout / 1000
    while time.monotonic() < end:
        now = _state(cell)
        if now[0] != before[0] and now[1] != before[1]:
            return now, timeout / 1000 - (end - time.monotonic())
        time.sleep(0.05)
    raise AssertionError(f"the panel did not redraw: {before[1]!r} -> {_state(cell)[1]!r}")


def select(label, option):
    """Pick ``option`` in the dropdown described ``label``."""

    def act(cell):
        cell.locator(".widget-dropdown", has_text=label).locator("select").select_option(label=option)

    return act


def toggle(option):
    def act(cell):
        cell.locator(".widget-toggle-button", has_text=option).click()

    return act


def slide(label, key="End"):
    """Focus the handle of the slider described ``label`` and press ``key`` (End: its maximum)."""

    def act(cell):
        handle = cell.locator(".widget-slider", has_text=label).locator(".noUi-handle").first
        handle.focus()
        handle.press(key)

    return act


LESSONS = {
    "02_preprocessing.ipynb": [select("scaler", "none"), toggle("all rows")],
    "03_model_selection.ipynb": [select("model", "SVM (RBF kernel)")],
    "04_loss_functions.ipynb": [slide("moved y")],
    "05_optimizers.ipynb": [slide("log")],
    "06_evaluation.ipynb": [slide("threshold", "Home")],
    "07_devices_and_speed.ipynb": [slide("batch size")],
    "11_text.ipynb": [slide("vocabulary", "Home")],
}


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_lesson_panel_redraws_when_a_control_moves(lesson_page, lessons_lab, name):
    page = lesson_page
    n_cells, panels = _explorer_cells(name)
    assert panels, f"{name} has no explore panel"
    cells = _run_all(page, lessons_lab, name, n_cells)
    started = time.monotonic()
    last = cells.nth(n_cells - 1).locator(".jp-InputArea-prompt")
    page.wait_for_function("(el) => /\\[\\d+\\]:/.test(el.textContent)", arg=last.element_handle(), timeout=180_000)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)  # a click on a busy kernel waits for the cell
    print(f"{name}: Run All took {time.monotonic() - started:.1f} s")
    for k, (i, act) in enumerate(zip(panels, LESSONS[name])):
        cell = cells.nth(i)
        before = _wait_panel(page, cell)
        act(cell)
        after, took = _changed(page, cell, before)
        print(f"{name} panel {k}: redrawn {took:.2f} s after the control moved: {after[1][:80]!r}")
        cell.screenshot(path=str(ARTIFACTS / f"lesson-{name[:2]}-panel{k}.png"))
    assert len(panels) == len(LESSONS[name]), f"{name}: one control to move per panel"
