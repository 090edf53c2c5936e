"""nbtrain in JupyterLab, driven by headless Chromium: what a user sees and clicks.

- a ``%%train`` cell renders the live plot (PNG), the metric table and the progress panel;
- Stop clicked two seconds into a long run stops it within a second, keeps its history, and the
  next queued cell runs;
- Kernel > Interrupt Kernel does the same;
- the builder panel's Train button starts a run.
Screenshots of each are saved under ``test-artifacts/browser/``.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from servers import ARTIFACTS

pytestmark = pytest.mark.timeout(240)

SETUP = """%load_ext nbtrain
import numpy as np, torch, nbtrain
torch.set_num_threads(1)
rng = np.random.default_rng(0)
X = rng.normal(size=(3000, 10)).astype("float32")
y = (X[:, 0] + X[:, 1] > 0).astype("int64")"""

LONG = """%%train --epochs 100000 --batch-size 32 --name {name}
data = (X, y)
model = "mlp(64, 64)\""""

NEXT = """import gc
r = nbtrain.runs["{name}"]
print("NEXT", r.status, "|", r.note, "|", len(r.history), "epochs")
from nbtrain.display.panel import PanelView
v = [o for o in gc.get_objects() if type(o) is PanelView and o.run is r][0]
print("MODE", v.live.mode, "LATENCY", None if v.stop_clicked_at is None else v.stopped_at - v.stop_clicked_at)"""


def write_notebook(lab, name, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(lab.root / name))


KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}"""


def open_and_run_all(page, lab, name, n_cells):
    page.goto(lab.url(name))
    page.locator(".jp-Notebook .jp-CodeCell").nth(n_cells - 1).wait_for(state="attached")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    first = page.locator(".jp-Notebook .jp-CodeCell").first.locator(".jp-InputArea-prompt")
    for _ in range(3):  # a Run All right after load can be lost: check a prompt changed
        # not awaited: the command's promise resolves only when every cell has run
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        try:
            page.wait_for_function(
                "(el) => el.textContent.trim() !== '[ ]:'", arg=first.element_handle(), timeout=5_000
            )
            return
        except Exception:
            continue
    raise AssertionError("Run All did not start")


def cell(page, i):
    c = page.locator(".jp-Notebook .jp-CodeCell").nth(i)
    c.wait_for(state="attached")
    return c


def wait_cell_done(page, i, timeout=120_000):
    prompt = cell(page, i).locator(".jp-InputArea-prompt")
    page.wait_for_function("(el) => /\\[\\d+\\]:/.test(el.textContent)", arg=prompt.element_handle(), timeout=timeout)


def shot(locator, name):
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def wait_training(page, i, seconds_in=2.0):
    """Wait until cell ``i``'s run has finished an epoch and has been training ``seconds_in`` s."""
    panel = cell(page, i).locator(".nbtrain-panel")
    panel.wait_for(state="attached", timeout=90_000)
    status = panel.locator(".nbtrain-status")
    page.wait_for_function("(el) => el.textContent.startsWith('epoch')", arg=status.element_handle(), timeout=90_000)
    started = time.monotonic()
    epochs = panel.locator(".nbtrain-epochs")
    page.wait_for_function(
        "(el) => /^[1-9]\\d*\\/\\d+$/.test(el.textContent)", arg=epochs.element_handle(), timeout=60_000
    )  # one epoch finished
    time.sleep(max(0.0, seconds_in - (time.monotonic() - started)))
    return panel


def stop_time(page, panel, click):
    """Seconds from the user's click (pointerup) to the panel showing "stopped"."""
    page.evaluate(
        "() => { window.__clickAt = null; document.addEventListener('pointerup', "
        "() => { window.__clickAt = window.__clickAt || performance.now(); }, {capture: true}); }"
    )
    # taken before the click: when the run ends, the panel's output is replaced by its static record
    status = panel.locator(".nbtrain-status").element_handle()
    area = panel.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-OutputArea ')]").first
    area = area.element_handle()
    click()
    page.wait_for_function(
        "([st, area]) => st.textContent.includes('stopped') || area.textContent.includes('stopped')",
        arg=[status, area],
        timeout=10_000,
        polling=10,
    )
    return page.evaluate("() => (performance.now() - window.__clickAt) / 1000")


BUILDER = """nbtrain.panel(dataset="wine", epochs=100000, model="mlp(16)")"""


def test_train_cell_renders_plot_table_and_panel_then_builder_trains(page, lab):
    write_notebook(
        lab,
        "render.ipynb",
        [
            SETUP,
            """%%train --epochs 8 --name iris_mlp
from sklearn.datasets import load_iris
data = load_iris(return_X_y=True)
preprocess = "standardize"
model = "mlp(16)\"""",
            BUILDER,
        ],
    )
    open_and_run_all(page, lab, "render.ipynb", 3)
    wait_cell_done(page, 1)
    out = cell(page, 1)
    img = out.locator(".jp-OutputArea-output.jp-RenderedImage img").first
    img.wait_for(state="attached")
    assert img.evaluate("el => el.naturalWidth") > 100
    table = out.locator(".jp-OutputArea-output table").first
    table.wait_for(state="attached")
    assert table.locator("tr").count() >= 9  # header + 8 epochs
    # the panel's widget, once the run ended, is replaced in place by its static record
    record = out.locator(".nbtrain-record")
    record.wait_for(state="attached")
    assert "completed: 8/8 epochs" in record.text_content() and "iris_mlp" in record.text_content()
    assert out.locator(".nbtrain-panel").count() == 0
    shot(out, "render-plot-table-panel")

    # the builder panel (same kernel): Train starts a run whose views appear below the controls
    wait_cell_done(page, 2)
    builder = cell(page, 2).locator(".nbtrain-builder")
    builder.wait_for(state="visible", timeout=60_000)
    copy = builder.locator(".nbtrain-cell").text_content()
    assert "%%train --epochs 100000" in copy and "load_wine" in copy
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    builder.locator(".nbtrain-train").click()
    # the run trains inside the Train click's handler; its own Stop button still works
    panel = builder.locator(".nbtrain-panel")
    panel.wait_for(state="attached", timeout=90_000)
    page.wait_for_function(
        "(el) => el.textContent.startsWith('epoch')",
        arg=panel.locator(".nbtrain-status").element_handle(),
        timeout=90_000,
    )
    time.sleep(1.0)
    took = stop_time(page, panel, lambda: panel.locator(".nbtrain-stop").click())
    page.wait_for_function(
        "(el) => el.textContent.includes('run1: stopped')", arg=builder.element_handle(), timeout=30_000
    )
    print(f"builder: click to 'stopped' shown in {took:.3f} s")
    assert took < 1.0
    builder.locator(".nbtrain-live-area img").first.wait_for(state="attached")  # the LiveArea's final plot
    shot(builder, "builder-after-train")


def _next_text(page, i):
    wait_cell_done(page, i, timeout=30_000)
    return cell(page, i).locator(".jp-OutputArea").text_content()


def _click_stop(page, i, name):
    panel = wait_training(page, i, seconds_in=2.0)
    button = panel.locator(".nbtrain-stop")
    took = stop_time(page, panel, lambda: button.click())
    text = _next_text(page, i + 1)
    print(f"{name}: click to 'stopped' shown in {took:.3f} s; {text.splitlines()[-1]}")
    assert took < 1.0, f"the run took {took:.2f} s to stop after the click ({text})"
    assert "NEXT stopped | Stop button |" in text, text
    assert int(text.split("|")[2].split()[0]) >= 1  # finished epochs were kept
    # once the run ended, the panel's widget was replaced in place by its static record
    record = cell(page, i).locator(".nbtrain-record").text_content()
    assert "stopped at epoch" in record and "Stop button" in record, record
    shot(cell(page, i), f"{name}-panel")
    shot(cell(page, i + 1), f"{name}-next-cell")
    return text


def test_stop_button_then_kernel_interrupt_mid_cell(page, lab):
    """One kernel, three long runs queued by Run All: Stop the first (clicks delivered through a kernel
    subshell), Stop the second with clicks read from the kernel's queue between batches (the cells
    queued behind it must still run in order), interrupt the third from the Kernel menu."""
    queue_mode = NEXT.format(name="long") + '\nimport os; os.environ["NBTRAIN_COMM_MODE"] = "queue"'
    write_notebook(
        lab,
        "stop.ipynb",
        [
            SETUP,
            LONG.format(name="long"),
            queue_mode,
            LONG.format(name="long2"),
            NEXT.format(name="long2"),
            LONG.format(name="long3"),
            NEXT.format(name="long3"),
        ],
    )
    open_and_run_all(page, lab, "stop.ipynb", 7)

    text = _click_stop(page, 1, "stop-button")
    assert "MODE subshell" in text
    text = _click_stop(page, 3, "stop-button-queue-mode")
    assert "MODE queue" in text

    # Kernel > Interrupt Kernel during the last queued run
    panel = wait_training(page, 5, seconds_in=2.0)

    def interrupt():
        page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
        page.locator(".lm-Menu-itemLabel", has_text="Interrupt Kernel").click()

    took = stop_time(page, panel, interrupt)
    text = _next_text(page, 6)
    print(f"interrupt: menu click to 'stopped' shown in {took:.3f} s")
    assert took < 1.0, f"the run took {took:.2f} s to stop after the interrupt ({text})"
    assert "NEXT stopped | interrupted (KeyboardInterrupt) |" in text, text
    assert int(text.split("|")[2].split()[0]) >= 1
    shot(cell(page, 5), "interrupt-panel")
    shot(cell(page, 6), "interrupt-next-cell")
