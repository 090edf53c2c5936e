"""A %%train cell that declares `tokenizer`, then %predict on new sentences (and --proba), in a real
IPython shell (issue 20 item 2)."""

import os

import pytest

pytest.importorskip("transformers", reason="tokenizer= needs transformers (pip install 'nbtrain[hf]')")
pytest.importorskip("datasets", reason="a DatasetDict needs datasets (pip install 'nbtrain[hf]')")

from IPython.core.error import UsageError

HF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hf")
SETUP = f"""
import sys; sys.path.insert(0, {HF!r})
import datasets; datasets.disable_progress_bars()
from hf_helpers import sentiment_dict, tiny_bert, make_tokenizer
tok = make_tokenizer()
dd = sentiment_dict(tok, n=600)
"""


def test_a_cell_declares_its_tokenizer_and_predict_takes_sentences(shell):
    import torch

    shell.run(SETUP)
    shell.run("%%train --epochs 4 --lr 3e-3 --name senti\ndata = dd\nmodel = tiny_bert(tok)\ntokenizer = tok")
    got = shell.run('%predict senti ["the movie was great", "a really awful plot"]')
    assert list(got) == ["pos", "neg"]
    assert list(shell.run('%predict senti "it was so lovely"')) == ["pos"]
    proba = shell.run('%predict --proba senti ["the movie was great", "a really awful plot"]')
    assert list(proba.columns) == ["neg", "pos"]
    # against the model's own forward on the tokenizer's ids, computed here
    enc = shell.ns["tok"](["the movie was great", "a really awful plot"], padding=True, return_tensors="pt")
    model = shell.ns["model"].eval()
    with torch.no_grad():
        want = torch.softmax(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits, 1)
    assert proba.to_numpy() == pytest.approx(want.numpy(), abs=1e-5)


def test_predict_on_texts_without_a_tokenizer_is_one_line(shell):
    shell.run(SETUP)
    shell.run("%%train --epochs 1 --name notok\ndata = dd\nmodel = tiny_bert(tok)")
    with pytest.raises(UsageError, match="has no tokenizer"):
        shell.run('%predict notok ["a lovely film"]')


def test_a_language_model_cell_then_evaluate_shows_perplexity(shell):
    import math

    shell.run(SETUP + "from hf_helpers import lm_dict, tiny_gpt2\nlmdd = lm_dict(tok, n=200)\n")
    shell.run(
        "%%train --epochs 2 --lr 3e-3 --name gpt\n"
        "from transformers import DataCollatorForLanguageModeling\n"
        "data = lmdd\nmodel = tiny_gpt2(tok)\ncollate = DataCollatorForLanguageModeling(tok, mlm=False)"
    )
    res, outputs = shell.capture("res = %evaluate gpt\nres")
    assert list(res) == ["perplexity"] and 1 < res["perplexity"] < len(shell.ns["tok"])
    assert "perplexity" in outputs[0]["text/plain"]
    import nbtrain

    run = nbtrain.runs["gpt"]
    assert run.history["val_perplexity"][-1] == pytest.approx(math.exp(run.history["val_loss"][-1]), rel=1e-9)
    with pytest.raises(UsageError, match="causal language model"):
        shell.run("%evaluate gpt --plot confusion")
