"""Every nbtrain view is readable in JupyterLab and Notebook 7, light and dark (issue 23, item 1):
a notebook holding the outputs of real runs (the panel's record and final texts, the metric table, a
folded long table, %runs, %evaluate, %compare, a sweep-style table, the live chart's SVG, the final
PNG) is opened in each theme, and every text's rendered colour is measured against what is rendered
behind it (backgrounds composited up the page): each must be 4.5 : 1 or more.  Images (the SVG live
chart, PNG figures) must carry their own opaque background: their corner pixel is white in both
themes.  Screenshots go to test-artifacts/browser/themes-*.png."""

from __future__ import annotations

import base64
import io
import json

import nbformat
import numpy as np
import pytest
from servers import ARTIFACTS

pytestmark = pytest.mark.timeout(300)

DARK = {"theme": "JupyterLab Dark"}

# Contrast of every element with its own text, against the composited backgrounds behind it (WCAG).
MEASURE = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(',').map(s => parseFloat(s));
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const over = (t, u) => ({r: t.r * t.a + u.r * (1 - t.a), g: t.g * t.a + u.g * (1 - t.a),
                           b: t.b * t.a + u.b * (1 - t.a), a: 1});
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.push(e);
    let bg = {r: 255, g: 255, b: 255, a: 1};  // the canvas
    for (const e of chain.reverse()) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) bg = over(c, bg);
    }
    return bg;
  };
  const out = [];
  for (const area of document.querySelectorAll('.jp-OutputArea-output')) {
    for (const el of area.querySelectorAll('*')) {
      const own = Array.from(el.childNodes).filter(n => n.nodeType === 3 && n.textContent.trim())
        .map(n => n.textContent.trim()).join(' ');
      if (!own || el.closest('svg')) continue;
      const st = getComputedStyle(el);
      if (st.visibility === 'hidden' || st.display === 'none') continue;
      const bg = background(el);
      const fg = over(parse(st.color), bg);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      out.push({text: own.slice(0, 60), tag: el.tagName, ratio: (a + 0.05) / (b + 0.05)});
    }
  }
  return out;
}"""


def _outputs():
    """Display bundles of every view, from real runs (no kernel needed to show them)."""
    import nbtrain
    from nbtrain.display.chart import chart_data, chart_svg
    from nbtrain.display.evaluation import compare, evaluate, runs_table
    from nbtrain.display.format import Table
    from nbtrain.display.panel import PanelView
    from nbtrain.display.plot import draw, to_png
    from nbtrain.display.table import MetricTable

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype("float32")
    y = (X[:, 0] > 0).astype("int64")
    run = nbtrain.train((X, y), model="mlp(16)", epochs=3, display="none", name="short")
    long = nbtrain.train((X, y), model="mlp(16)", epochs=30, display="none", name="long")
    panel = PanelView(display=False)
    html = [panel.record_bundle(run, "completed")["text/html"]]
    html += [panel.final_text(run, s) for s in ("completed", "stopped", "failed")]
    html += [MetricTable.from_run(run).to_html(), MetricTable.from_run(long).to_html()]
    html.append(runs_table([run, long]).to_html())
    html.append(evaluate(run).table.to_html())
    html += [compare([run, long]).table.to_html()]
    html.append(
        Table(
            [{"trial": 0, "lr": 0.01, "val_accuracy": 0.9}, {"trial": 1, "lr": 0.1, "val_accuracy": 0.8}],
            highlight=0,
            title="sweep s: completed; best trial 0",
            footer="* best trial",
        ).to_html()
    )
    outs = [nbformat.v4.new_output("display_data", {"text/html": h, "text/plain": "x"}) for h in html]
    rows = list(long.history)
    svg = chart_svg(chart_data(rows, (), "val_accuracy", 3, "long: epoch 30/30"))
    outs.append(nbformat.v4.new_output("display_data", {"image/svg+xml": svg, "text/plain": "chart"}))
    from nbtrain.display.plot import new_figure

    fig = new_figure(2)
    draw(fig, rows, metric="val_accuracy", best=3, title="long: completed")
    png = base64.b64encode(to_png(fig)).decode()
    outs.append(nbformat.v4.new_output("display_data", {"image/png": png, "text/plain": "plot"}))
    return outs


@pytest.fixture(scope="module")
def views_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("# nbtrain views", outputs=[o]) for o in _outputs()]
    return nb


def _set_theme(server, theme):
    folder = server.tmp / "settings" / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "themes.jupyterlab-settings").write_text(json.dumps(theme or {}))


def _trusted(nb):
    """Signed as the server's notary would (a notebook the user ran: its SVG and HTML render in full)."""
    import os
    from unittest import mock

    from nbformat.sign import NotebookNotary

    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    with mock.patch.dict(os.environ, {"JUPYTER_PLATFORM_DIRS": "1"}):
        NotebookNotary().sign(nb)
    return nb


def _check(page, server, nb, label):
    name = f"themes-{label}.ipynb"
    nbformat.write(_trusted(nb), str(server.root / name))
    page.goto(server.url(name))
    page.locator(".jp-OutputArea-output").first.wait_for(state="attached", timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output').length >= 12", timeout=60_000)
    page.wait_for_timeout(1500)  # the theme's stylesheet
    ratios = page.evaluate(MEASURE)
    assert len(ratios) > 50
    low = [r for r in ratios if r["ratio"] < 4.5]
    assert not low, f"{label}: text below 4.5:1: {low[:8]}"
    from PIL import Image

    for i, img in enumerate(page.locator(".jp-OutputArea-output img").all()):
        img.scroll_into_view_if_needed()
        png = img.screenshot(path=str(ARTIFACTS / f"themes-{label}-image{i}.png"))
        corner = Image.open(io.BytesIO(png)).convert("RGB").getpixel((2, 2))
        assert min(corner) >= 245, f"{label}: image {i} has no opaque background of its own: {corner}"
    assert page.locator(".jp-OutputArea-output img").count() == 2  # the SVG chart and the PNG rendered
    for i, out in enumerate(page.locator(".jp-OutputArea-output").all()):
        out.scroll_into_view_if_needed()
        out.screenshot(path=str(ARTIFACTS / f"themes-{label}-out{i:02d}.png"))
    return ratios


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_view_reads_in_jupyterlab(lab, page, views_notebook, theme):
    _set_theme(lab, DARK if theme == "dark" else {})
    ratios = _check(page, lab, views_notebook, f"lab-{theme}")
    bg = page.evaluate("() => getComputedStyle(document.querySelector('.jp-Notebook')).backgroundColor")
    dark = sum(map(float, bg[bg.index("(") + 1 : bg.index(")")].split(",")[:3])) < 200
    assert dark == (theme == "dark"), f"the {theme} theme did not apply: {bg}"
    print(f"lab {theme}: {len(ratios)} texts, lowest {min(r['ratio'] for r in ratios):.2f}:1")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_view_reads_in_notebook7(notebook7, bpage, views_notebook, theme):
    _set_theme(notebook7, DARK if theme == "dark" else {})
    ratios = _check(bpage, notebook7, views_notebook, f"nb7-{theme}")
    print(f"notebook 7 {theme}: {len(ratios)} texts, lowest {min(r['ratio'] for r in ratios):.2f}:1")
