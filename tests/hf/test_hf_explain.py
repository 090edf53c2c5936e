"""run.explain() on a tiny BERT trained on a Hugging Face DatasetDict (built offline): the split read
through a view, top losses recomputed from the model's own logits on the split's rows, attributions
per token through the word embeddings, complete against the logits, shown as coloured tokens."""

import warnings

import numpy as np
import pytest
import torch
from hf_helpers import sentiment_dict, tiny_bert

import nbtrain
from nbtrain.core.explain_data import DatasetRows
from nbtrain.display.explain import explain
from nbtrain.display.tokens import TokenView

pytest.importorskip("captum")
pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def bert_run(tokenizer):
    dd = sentiment_dict(tokenizer, n=200)
    torch.manual_seed(0)
    model = tiny_bert(tokenizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = nbtrain.train(dd, model=model, epochs=1, lr=1e-3, batch_size=16, display="none", name="bert")
    return run, dd


def test_top_losses_of_a_hugging_face_split_are_the_logits_cross_entropy(bert_run, tokenizer):
    from sklearn.metrics import log_loss

    run, dd = bert_run
    ex = run.explain(on="test", tokenizer=tokenizer)
    assert isinstance(ex.inputs, DatasetRows) and len(ex) == len(dd["test"])
    assert ex.loss_name == "cross_entropy"  # the model's own loss, one row at a time
    rows = dd["test"].with_format("torch", columns=["input_ids", "attention_mask"])[:]
    run.model.eval()
    with torch.no_grad():
        p = torch.softmax(run.model(**rows).logits, 1).double().numpy()
    p /= p.sum(1, keepdims=True)
    y = np.asarray(dd["test"]["label"])
    losses = np.array([log_loss([t], [q], labels=[0, 1]) for t, q in zip(y, p)])
    top = ex.top_losses(5)
    np.testing.assert_allclose(top["loss"], losses[top["index"]], rtol=1e-4, atol=1e-6)
    assert list(top["target"]) == [["neg", "pos"][t] for t in y[top["index"]]]  # the ClassLabel's names


def test_tokens_are_attributed_through_the_word_embeddings_and_shown_as_text(bert_run, tokenizer):
    run, dd = bert_run
    res = explain(run, top=3, attribute=True, tokenizer=tokenizer)
    ex = res.explanation
    top_table, _, view = res.parts
    idx = [int(i) for i in ex.top_losses(3)["index"]]
    x = ex.take(idx)
    ids, mask = x["input_ids"], x["attention_mask"]
    assert top_table.columns[-1] == "text"
    assert [r["text"] for r in top_table.rows] == [dd["test"][i]["text"] for i in idx]  # decoded, no padding
    attr = ex.attribute(x)
    assert attr["input_ids"].shape == ids.shape and np.all(attr["attention_mask"] == 0)
    assert np.all(attr["input_ids"][ids == tokenizer.pad_token_id] == 0)
    run.model.eval()
    with torch.no_grad():
        out = run.model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits.numpy()
        pad = torch.full_like(torch.tensor(ids), tokenizer.pad_token_id)
        base = run.model(input_ids=pad, attention_mask=torch.tensor(mask)).logits.numpy()
    k = out.argmax(1)
    gap = out[np.arange(3), k] - base[np.arange(3), k]
    np.testing.assert_allclose(attr["input_ids"].sum(1), gap, rtol=0.05, atol=1e-4)
    assert isinstance(view, TokenView) and repr(view).startswith("<Token attributions: integrated gradients of bert")
    for row, r in zip(view.rows, range(3)):
        shown = [t for t, kind in zip(row.tokens, row.kinds) if kind == "token"]
        assert shown == tokenizer.convert_ids_to_tokens(ids[r][mask[r] == 1])
    assert view._repr_html_().count('class="nbtrain-token"') == int(mask.sum())
