"""Class names in %evaluate's table (issue 20 item 2): a sequence classifier on a DatasetDict with a
ClassLabel feature (or a model's id2label) gets one row per class name, its scores from scikit-learn
on the model's own logits, computed here."""

import numpy as np
import pytest
import torch
from hf_helpers import sentiment_dict, tiny_bert
from sklearn.metrics import precision_recall_fscore_support

import nbtrain
from nbtrain.display.evaluation import evaluate


def _pred(model, ds):
    cols = ["input_ids", "attention_mask"]
    t = ds.with_format("torch", columns=cols)[:]
    with torch.no_grad():
        return model.eval()(**{k: t[k] for k in cols}).logits.argmax(1).numpy()


def _rows(table):
    return {r["class"]: r for r in table.rows}


@pytest.fixture(scope="module")
def dd(tokenizer):
    return sentiment_dict(tokenizer, n=300)


def test_evaluate_names_each_class_of_a_class_label(dd, tokenizer):
    run = nbtrain.train(dd, model=tiny_bert(tokenizer), epochs=2, lr=3e-3, display="none", name="named")
    res = evaluate(run, on="test")
    rows = _rows(res.classes)
    assert list(rows) == ["neg", "pos"]
    y = np.asarray(dd["test"]["label"])
    p, r, f, s = precision_recall_fscore_support(y, _pred(run.model, dd["test"]), labels=[0, 1], zero_division=0)
    for k, name in enumerate(["neg", "pos"]):
        assert rows[name]["precision"] == pytest.approx(p[k])
        assert rows[name]["recall"] == pytest.approx(r[k])
        assert rows[name]["f1"] == pytest.approx(f[k])
        assert rows[name]["support"] == s[k]
    text = repr(res.classes)
    assert "neg" in text and "pos" in text and "each class" in text


def test_names_from_the_model_id2label_when_the_label_is_a_plain_integer(dd, tokenizer):
    from datasets import Value

    plain = dd.cast_column("label", Value("int64"))
    model = tiny_bert(tokenizer, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1})
    run = nbtrain.train(plain, model=model, epochs=1, lr=3e-3, display="none", name="id2label")
    assert list(_rows(evaluate(run, on="val").classes)) == ["bad", "good"]


def test_runs_without_named_classes_keep_the_one_table():
    from sklearn.datasets import load_iris

    run = nbtrain.train(load_iris(return_X_y=True), model="mlp(8)", epochs=2, display="none")
    assert evaluate(run).classes is None
