"""nbtrain in marimo, served by a real ``marimo run`` / ``marimo edit`` and driven by headless Chromium.

- ``marimo run APP``: the training cell's output shows the status line and the live plot while the
  cell runs (the plot updates in place, counted in the browser), then the final plot and the metric
  table; the next cell, whose last expression is the Run, shows its summary (HTML + PNG); nothing of
  the run goes to the server's terminal;
- ``marimo edit APP``: the same output under the cell, nothing in the cell's console, and marimo's
  own interrupt ends the run as "stopped" with its finished epochs kept.
"""

from __future__ import annotations

import time

import pytest
from test_lab import ARTIFACTS, shot

pytest.importorskip("marimo")

pytestmark = pytest.mark.timeout(300)

UPDATES, WINDOW = 3, 5.0

APP = """import marimo

app = marimo.App()


@app.cell
def _():
    import time

    import numpy as np
    import torch

    import nbtrain

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 10)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype("int64")

    class StopAfter(nbtrain.Callback):
        def __init__(self, seconds):
            self.seconds = seconds

        def on_fit_start(self, run, **kw):
            self.t0 = time.monotonic()

        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if time.monotonic() - self.t0 > self.seconds:
                run.request_stop("time limit")

    return StopAfter, X, nbtrain, y


@app.cell
def _(StopAfter, X, nbtrain, y):
    run = nbtrain.train(
        (X, y), model="mlp(64, 64)", epochs=100000, batch_size=32, name="long", callbacks=[StopAfter({seconds})]
    )
    return (run,)


@app.cell
def _(run):
    run
    return


if __name__ == "__main__":
    app.run()
"""

# New plot images (PNG, or the live chart's SVG) on the page while the run's status line is live,
# with the time since training
# started (the status line starts with "epoch").
WATCH = """() => {
  const w = {startAt: null, frames: [], statuses: new Set()};
  window.__plot = w;
  const seen = new Set();
  const look = () => {
    const st = document.querySelector('.nbtrain-status');
    if (!st) return;
    const now = performance.now(), text = st.textContent;
    if (w.startAt === null && text.startsWith('epoch')) w.startAt = now;
    if (w.startAt === null || !text.startsWith('epoch')) return;
    w.statuses.add(text);
    for (const el of document.querySelectorAll('img[src^="data:image/png"], svg.nbtrain-chart')) {
      const key = el.tagName === 'IMG' ? el.src : el.outerHTML;  // a PNG, or an SVG frame of the live chart
      if (!seen.has(key)) { seen.add(key); w.frames.push((now - w.startAt) / 1000); }
    }
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, attributes: true});
  look();
}"""

FRAMES_IN_WINDOW = """([n, s]) => window.__plot.startAt !== null && (
  window.__plot.frames.filter(t => t <= s).length >= n || performance.now() - window.__plot.startAt > s * 1000 + 500)"""


def _app(root, seconds: float) -> str:
    (root / "app.py").write_text(APP.replace("{seconds}", str(seconds)))
    return "app.py"


def _live_frames(page):
    page.evaluate(WATCH)
    page.wait_for_function(FRAMES_IN_WINDOW, arg=[UPDATES, WINDOW], timeout=150_000, polling=100)
    w = page.evaluate("() => ({frames: window.__plot.frames, statuses: window.__plot.statuses.size})")
    print(f"marimo: live plot frames (s after training started): {[round(t, 2) for t in w['frames']]}")
    return [t for t in w["frames"] if t <= WINDOW], w["statuses"]


def _stop_time(page, click) -> float:
    """Seconds from the click (pointerup) to the status line saying "stopped"."""
    page.evaluate(
        "() => { window.__clickAt = null; document.addEventListener('pointerup', "
        "() => { window.__clickAt = window.__clickAt || performance.now(); }, {capture: true}); }"
    )
    click()
    page.wait_for_function(
        "() => document.querySelector('.nbtrain-status').textContent.includes('stopped')", timeout=15_000, polling=10
    )
    return page.evaluate("() => (performance.now() - window.__clickAt) / 1000")


def test_marimo_run_shows_live_plot_status_table_and_run_summary(bpage, start_server, tmp_path_factory):
    page = bpage
    root = tmp_path_factory.mktemp("marimo-run")
    server = start_server("marimo", _app(root, 9), root=root, mode="run")
    page.goto(server.url())
    early, statuses = _live_frames(page)
    assert len(early) >= UPDATES, f"{len(early)} plot updates in the first {WINDOW} s"
    assert statuses >= 2  # the status line is live too
    live = page.locator("img[src^='data:image/png'], svg.nbtrain-chart")
    assert live.count() == 1  # one live plot, updated in place
    page.screenshot(path=str(ARTIFACTS / "marimo-run-mid-run.png"))

    summary = page.locator(".nbtrain-summary")
    summary.wait_for(state="attached", timeout=60_000)  # the Run cell ran: training is over
    status = page.locator(".nbtrain-status").first.text_content()
    assert status.startswith("[long] stopped:") and "(time limit)" in status, status
    assert page.locator("table.nbtrain-table").count() == 2  # under the training cell, and in the summary
    assert summary.locator("img.nbtrain-summary-plot").evaluate("el => el.naturalWidth") > 300
    assert "long: stopped" in summary.inner_text()
    page.screenshot(path=str(ARTIFACTS / "marimo-run-end.png"))
    shot(summary, "marimo-run-summary")
    log = server.read_log()
    assert "epoch" not in log and "[long]" not in log, log[-1500:]  # nothing went to the server's terminal


def test_marimo_edit_shows_the_run_under_the_cell_and_interrupt_stops_it(bpage, start_server, tmp_path_factory):
    page = bpage
    root = tmp_path_factory.mktemp("marimo-edit")
    server = start_server("marimo", _app(root, 600), root=root, mode="edit")
    page.goto(server.url())
    controls = page.get_by_test_id("chrome-controls-bottom-right")  # (the notebook runs on open)
    early, _ = _live_frames(page)
    assert len(early) >= UPDATES, f"{len(early)} plot updates in the first {WINDOW} s"
    page.screenshot(path=str(ARTIFACTS / "marimo-edit-mid-run.png"))
    page.wait_for_function(
        "() => /^epoch ([2-9]|\\d\\d+)\\//.test(document.querySelector('.nbtrain-status').textContent)",
        timeout=60_000,
    )  # one epoch finished

    status = page.locator(".nbtrain-status").first
    took = _stop_time(page, lambda: controls.get_by_test_id("interrupt-button").click())
    print(f"marimo edit: interrupt click to 'stopped' shown in {took:.3f} s")
    text = status.text_content()
    assert text.startswith("[long] stopped:") and "interrupted (KeyboardInterrupt)" in text, text
    page.locator("table.nbtrain-table").first.wait_for(state="attached", timeout=30_000)
    time.sleep(1.0)  # let marimo settle what it shows after an interrupt
    page.screenshot(path=str(ARTIFACTS / "marimo-edit-interrupted.png"))
    assert page.locator(".nbtrain-status").first.text_content() == text  # the output stays
