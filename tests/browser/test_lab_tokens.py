"""Per-token attribution colours (%explain on token data) read in JupyterLab's light and dark themes:
the view of a real run is opened in each, every text's rendered contrast against what is rendered
behind it is 4.5 : 1 or more, and the view keeps its own white background.  Screenshots go to
test-artifacts/browser/tokens-*.png."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import torch
from servers import ARTIFACTS
from test_themes import DARK, MEASURE, _set_theme, _trusted

pytestmark = pytest.mark.timeout(300)
pytest.importorskip("captum")
pytest.importorskip("pandas")

VOCAB = ["[PAD]", "[CLS]", "good", "great", "bad", "awful", "the", "movie", "was", "a", "plot", "<b>x</b>"]


class Bag(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(len(VOCAB), 8, mode="mean", padding_idx=0)
        self.out = torch.nn.Linear(8, 2)

    def forward(self, ids):
        return self.out(self.emb(ids))


@pytest.fixture(scope="module")
def tokens_notebook():
    import nbtrain
    from nbtrain.display.explain import explain

    rng = np.random.default_rng(0)
    ids = np.zeros((300, 8), dtype=np.int64)
    y = rng.integers(0, 2, size=300)
    for i in range(300):
        k = int(rng.integers(3, 8))
        row = [1] + list(rng.integers(6, len(VOCAB), size=k - 2))
        row.insert(int(rng.integers(1, k)), int(rng.choice([2, 3] if y[i] else [4, 5])))
        ids[i, :k] = row
    torch.manual_seed(0)
    run = nbtrain.train((ids, np.array(["neg", "pos"])[y]), model=Bag(), epochs=2, lr=0.05, display="none", name="w")
    res = explain(run, top=6, attribute=True, tokenizer=VOCAB, progress=False)
    view = res.parts[-1]
    out = nbformat.v4.new_output("display_data", {"text/html": view._repr_html_(), "text/plain": repr(view)})
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("%explain w --attribute --tokenizer VOCAB", outputs=[out])]
    return nb


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_token_colours_read_in_jupyterlab(lab, page, tokens_notebook, theme):
    _set_theme(lab, DARK if theme == "dark" else {})
    name = f"tokens-{theme}.ipynb"
    nbformat.write(_trusted(tokens_notebook), str(lab.root / name))
    page.goto(lab.url(name))
    view = page.locator(".jp-OutputArea-output .nbtrain-tokens")
    view.wait_for(state="attached", timeout=60_000)
    page.wait_for_timeout(1500)  # the theme's stylesheet
    ratios = page.evaluate(MEASURE)
    assert len(ratios) > 30
    low = [r for r in ratios if r["ratio"] < 4.5]
    assert not low, f"{theme}: text below 4.5:1: {low[:8]}"
    assert view.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
    assert page.locator(".nbtrain-token").count() > 20 and "[PAD]" not in view.inner_text()
    cell = page.locator(".jp-Notebook .jp-CodeCell").first  # the view on the theme's own page around it
    cell.scroll_into_view_if_needed()
    cell.screenshot(path=str(ARTIFACTS / f"tokens-lab-{theme}.png"))
    print(f"tokens {theme}: {len(ratios)} texts, lowest {min(r['ratio'] for r in ratios):.2f}:1")
