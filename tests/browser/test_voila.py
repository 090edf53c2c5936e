"""nbtrain in Voilà 0.5 (``voila ROOT``), driven by headless Chromium.

Voilà sends a cell's outputs to the page only once the cell has finished, in both of its modes, so a
long training cell shows nothing of its run while it runs (the page says "Executing 1 of 3", or, with
``--progressive_rendering=True``, shows a placeholder).  Widget state does reach the page while a
cell runs.  So:

- with ``--progressive_rendering=True``, a ``LiveArea`` shown by an earlier cell holds the run's
  panel, live plot and final table while the next cell trains: the plot updates in place, the
  Stop button ends the busy cell, and the queued cell runs after it;
- in the default mode, a short run's cell shows its final panel, plot and table (the page comes
  once every cell has run), and a Train button (a widget callback, after the page has loaded) that
  trains into a ``LiveArea`` shows the live views, with a working Stop button.
"""

from __future__ import annotations

import nbformat
import pytest
from test_lab import ARTIFACTS, SETUP, shot, stop_time

pytest.importorskip("voila")

pytestmark = pytest.mark.timeout(300)

UPDATES, WINDOW = 3, 5.0

AREA = "from nbtrain.display import LiveArea\narea = LiveArea()\narea"
TRAIN_IN_AREA = (
    'run = nbtrain.train((X, y), model="mlp(64, 64)", epochs=100000, batch_size=32, name="long",'
    ' display="none", callbacks=[area])'
)
NEXT = 'print("NEXT", run.status, "|", run.note, "|", len(run.history), "epochs")'
SHORT = """%%train --epochs 8 --name short
data = (X, y)
model = "mlp(16)\""""
# a dashboard: training starts from a button, after the page has loaded (any Voilà mode)
DASHBOARD = """import ipywidgets as W
from nbtrain.display import LiveArea
area = LiveArea()
train = W.Button(description="Train")
train.add_class("dash-train")
train.on_click(lambda _b: nbtrain.train((X, y), model="mlp(64, 64)", epochs=100000, batch_size=32, name="dash",
                                        display="none", callbacks=[area]))
W.VBox([train, area.box])"""

# Counts new plot images inside `root` (a selector), with the time since training started
# (the panel's status line starts with "epoch").
WATCH_PLOT = """(root) => {
  const w = {panelAt: null, frames: []};
  window.__plot = w;
  const seen = new Set();
  const look = () => {
    const area = document.querySelector(root);
    if (!area) return;
    const now = performance.now();
    const st = area.querySelector('.nbtrain-panel .nbtrain-status');
    if (w.panelAt === null && st && st.textContent.startsWith('epoch')) w.panelAt = now;
    for (const el of area.querySelectorAll('.widget-html img, .widget-html svg, .jp-OutputArea-output img')) {
      const key = el.tagName === 'IMG' ? el.src : el.outerHTML;
      if (!seen.has(key)) { seen.add(key); w.frames.push(w.panelAt === null ? 0 : (now - w.panelAt) / 1000); }
    }
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, attributes: true});
  look();
}"""

FRAMES_IN_WINDOW = """([n, s]) => window.__plot.panelAt !== null && (
  window.__plot.frames.filter(t => t <= s).length >= n || performance.now() - window.__plot.panelAt > s * 1000 + 500)"""


def _write(root, name, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(root / name))


def _frames(page, root):
    page.wait_for_function(FRAMES_IN_WINDOW, arg=[UPDATES, WINDOW], timeout=150_000, polling=100)
    frames = page.evaluate("() => window.__plot.frames")
    print(f"{root}: live plot frames (s after training started): {[round(t, 2) for t in frames]}")
    return [t for t in frames if t <= WINDOW]


def _one_epoch_done(page, panel):
    page.wait_for_function(
        "(el) => /^[1-9]\\d*\\/\\d+$/.test(el.textContent)",
        arg=panel.locator(".nbtrain-epochs").element_handle(),
        timeout=60_000,
    )


def test_progressive_rendering_live_area_shows_the_run_and_stop_ends_the_busy_cell(
    bpage, start_server, tmp_path_factory
):
    page = bpage
    root = tmp_path_factory.mktemp("voila-live")
    _write(root, "live.ipynb", [SETUP, AREA, TRAIN_IN_AREA, NEXT])
    server = start_server("voila", root=root, options=["--progressive_rendering=True"])
    page.goto(server.url("live.ipynb"))
    page.evaluate(WATCH_PLOT, ".nbtrain-live-area")
    early = _frames(page, ".nbtrain-live-area")
    assert len(early) >= UPDATES, f"{len(early)} plot updates in the first {WINDOW} s"
    area = page.locator(".nbtrain-live-area")
    assert area.locator(".nbtrain-panel").count() == 1
    assert area.locator(".widget-html img, .widget-html svg").count() == 1  # one slot: an SVG frame (or blank)
    assert "NEXT" not in page.locator("body").inner_text()  # the training cell is still busy
    shot(area, "voila-progressive-mid-run")
    page.screenshot(path=str(ARTIFACTS / "voila-progressive-mid-run-page.png"))

    panel = area.locator(".nbtrain-panel")
    _one_epoch_done(page, panel)
    took = stop_time(page, panel, lambda: panel.locator(".nbtrain-stop").click())
    page.wait_for_function("() => document.body.innerText.includes('NEXT')", timeout=30_000)
    text = page.locator("body").inner_text()
    line = next(t for t in text.splitlines() if t.startswith("NEXT"))
    print(f"voila (progressive): click to 'stopped' shown in {took:.3f} s; {line}")
    assert took < 1.0, line
    assert line.startswith("NEXT stopped | Stop button |") and int(line.split("|")[2].split()[0]) >= 1, line
    area.locator("table.nbtrain-table").wait_for(state="attached")  # the final table, in the area
    assert area.locator(".widget-html img").count() == 1  # the slot holds the final plot now
    shot(area, "voila-progressive-stopped")


def test_default_mode_shows_a_short_runs_final_views_and_a_button_trains_live(bpage, start_server, tmp_path_factory):
    page = bpage
    root = tmp_path_factory.mktemp("voila-default")
    _write(root, "app.ipynb", [SETUP, SHORT, DASHBOARD])
    server = start_server("voila", root=root)
    page.goto(server.url("app.ipynb"), timeout=150_000)  # the page arrives once every cell has run
    # the short run: its final state (panel, plot, table), as saved by a headless run
    record = page.locator(".nbtrain-record").first  # the panel, replaced by its static record at the end
    record.wait_for(state="visible", timeout=60_000)
    assert "completed: 8/8 epochs" in record.text_content()
    assert page.locator(".jp-OutputArea-output img").count() == 1
    assert page.locator("table.nbtrain-table").first.locator("tr").count() == 9  # header + 8 epochs
    shot(page.locator(".jp-Cell").nth(1), "voila-default-short-run")

    page.locator(".dash-train").wait_for(state="visible", timeout=60_000)
    page.evaluate(WATCH_PLOT, ".nbtrain-live-area")
    page.locator(".dash-train").click()
    early = _frames(page, ".nbtrain-live-area")
    assert len(early) >= UPDATES, f"{len(early)} plot updates in the first {WINDOW} s"
    area = page.locator(".nbtrain-live-area")
    shot(area, "voila-dashboard-mid-run")
    live = area.locator(".nbtrain-panel")
    _one_epoch_done(page, live)
    took = stop_time(page, live, lambda: live.locator(".nbtrain-stop").click())
    print(f"voila (default mode) dashboard: click to 'stopped' shown in {took:.3f} s")
    assert took < 1.0
    area.locator("table.nbtrain-table").wait_for(state="attached")
    assert "dash: stopped" in area.inner_text()
    shot(area, "voila-dashboard-stopped")
