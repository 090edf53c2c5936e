"""What %explain shows (nbtrain.display.explain.explain): static parts only (HTML tables with a text
twin, PNG figures), their numbers recomputed with scikit-learn."""

import base64

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.display.evaluation import FigureDisplay, Table
from nbtrain.display.explain import ExplainResult, explain, is_image

pytest.importorskip("pandas")
pytest.importorskip("captum")


@pytest.fixture(scope="module")
def wine_run():
    from sklearn.datasets import load_wine

    d = load_wine()
    names = np.array(["barolo", "grignolino", "barbera"])[d.target]
    return nbtrain.train((d.data, names), preprocess="standardize", epochs=2, display="none", name="wine")


def _bundle(part):
    if isinstance(part, Table):
        return part.bundle()
    return {"text/plain": repr(part), "image/png": part._repr_png_()}


def test_tabular_parts_are_a_row_table_a_confusion_table_and_figures(wine_run):
    from sklearn.metrics import confusion_matrix

    res = explain(wine_run, top=5, importance=True, attribute=True, n_repeats=2)
    assert isinstance(res, ExplainResult)
    top, confused, importance, attribution = res.parts
    assert isinstance(top, Table) and isinstance(confused, Table)
    text = top.to_text()
    assert text.startswith("wine: top 5 losses (test)")
    assert "index" in text and "alcohol" not in text and "x0" in text  # an array: columns x0, x1, ...
    ex = res.explanation
    ranked = ex.top_losses(5)
    assert [r["index"] for r in top.rows] == list(ranked["index"])
    cm = confusion_matrix(ex.targets, wine_run.predict(ex.inputs), labels=list(wine_run.classes))
    for row in confused.rows:
        i, j = list(wine_run.classes).index(row["true"]), list(wine_run.classes).index(row["predicted"])
        assert row["count"] == cm[i, j] > 0
    for fig in (importance, attribution):
        assert isinstance(fig, FigureDisplay)
        b = _bundle(fig)
        assert b["image/png"].startswith(b"\x89PNG") and b["text/plain"].startswith("<Figure: ")
    assert repr(importance) == "<Figure: permutation importance of wine on test>"
    assert top.bundle()["text/html"].startswith('<table class="nbtrain-table"')


def test_images_show_thumbnails(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    X = torch.tensor(d.images[:300, None], dtype=torch.float32)
    run = nbtrain.train((X, d.target[:300]), model="cnn", epochs=1, display="none", name="digits")
    res = explain(run, top=4, attribute=True, method="saliency")
    assert is_image(res.explanation.inputs)
    grid, confused, attribution = res.parts
    assert repr(grid) == "<Figure: top 4 losses of digits on test>"
    assert len(grid.figure.axes) == 6  # a 2 x 3 grid for 4 thumbnails
    first = res.explanation.top_losses(4).to_dict("records")[0]
    title = grid.figure.axes[0].get_title()
    assert title.startswith(f"{first['target']} / {first['prediction']}\nloss ")  # integer labels stay integers
    assert grid._repr_png_().startswith(b"\x89PNG")
    assert attribution.label == "saliency of digits's top 4 losses on test"
    assert base64.b64encode(attribution._repr_png_())


def test_regression_shows_no_confusion():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    run = nbtrain.train((X, X[:, 0] * 3.0), epochs=2, display="none", name="reg")
    res = explain(run, top=3)
    assert len(res.parts) == 1 and "probability" not in res.parts[0].columns


class _TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(4, 3)
        self.lin = torch.nn.Linear(5, 2)

    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], dim=1))


def test_several_inputs_show_each_entry_and_one_attribution_column_each():
    rng = np.random.default_rng(2)
    num = rng.normal(size=(150, 2)).astype(np.float32)
    cat = rng.integers(0, 4, size=150)
    y = (num[:, 0] + (cat == 1) > 0.3).astype(int)
    torch.manual_seed(0)
    run = nbtrain.train(({"num": num, "cat": cat}, y), model=_TwoInputs(), epochs=2, display="none", name="two")
    res = explain(run, top=3, importance=True, attribute=True, n_repeats=2, progress=False)
    top, _, importance, attribution = res.parts
    assert top.columns[-2:] == ["num", "cat"]
    ex = res.explanation
    for row in top.rows:
        assert row["cat"] == ex.inputs["cat"][row["index"]]  # the row's own entry
    assert repr(attribution) == "<Figure: integrated gradients of two's top 3 losses on test>"
    labels = [t.get_text() for t in attribution.figure.axes[0].get_xticklabels()]
    assert labels == ["num[0]", "num[1]", "cat"]
    bars = [t.get_text() for t in importance.figure.axes[0].get_yticklabels()]
    assert sorted(bars) == ["cat", "num"]


def test_integer_features_of_a_preset_model_are_numbers_not_tokens():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 10, size=(200, 4))
    run = nbtrain.train((X, (X[:, 0] > 4).astype(int)), model="mlp(8)", epochs=2, display="none", name="ints")
    res = explain(run, top=3, attribute=True, progress=False)
    top, _, attribution = res.parts
    assert top.columns[-4:] == ["x0", "x1", "x2", "x3"] and "text" not in top.columns
    assert isinstance(attribution, FigureDisplay)  # a heat map of the columns, not coloured tokens
