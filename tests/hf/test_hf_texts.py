"""tokenizer= (issue 20 item 2): run.predict / predict_proba on raw texts, class names back, the tokenizer
saved as its own files with the run and read back by nbtrain.load and for stored runs."""

import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from hf_helpers import sentiment_dict, tiny_bert

import nbtrain
from nbtrain.core.errors import ConfigError, DataTypeError

NEW = ["the movie was great", "a really awful plot", "it was so lovely", "the film was ugly and sad"]


def _independent(model, tokenizer, texts):
    """Probabilities computed here: the tokenizer, the model's forward, a softmax (not through nbtrain)."""
    enc = tokenizer(list(texts), padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model.eval()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    return torch.softmax(logits, 1).numpy()


@pytest.fixture(scope="module")
def run(tokenizer):
    dd = sentiment_dict(tokenizer, n=600)
    return nbtrain.train(
        dd, model=tiny_bert(tokenizer), tokenizer=tokenizer, epochs=4, lr=3e-3, display="none", name="texts"
    )


def test_predict_takes_texts_and_answers_with_class_names(run, tokenizer):
    assert run.tokenizer is tokenizer
    got = run.predict(NEW)
    want = np.array(["neg", "pos"])[_independent(run.model, tokenizer, NEW).argmax(1)]
    assert list(got) == list(want) == ["pos", "neg", "pos", "neg"]
    assert list(run.predict("an ugly film")) == ["neg"]  # one string: one prediction
    proba = run.predict_proba(pd.Series(NEW))
    np.testing.assert_allclose(proba, _independent(run.model, tokenizer, NEW), atol=1e-5)


def test_texts_longer_than_the_model_takes_are_truncated(run):
    long = " ".join(["the movie was great"] * 40)  # 160 words; the model embeds 32 positions
    assert list(run.predict([long, "awful"])) == ["pos", "neg"]


def test_texts_without_a_tokenizer_say_how_to_give_one(tokenizer):
    dd = sentiment_dict(tokenizer, n=100)
    bare = nbtrain.train(dd, model=tiny_bert(tokenizer), epochs=1, display="none")
    with pytest.raises(DataTypeError, match=r"has no tokenizer.*tokenizer=tok"):
        bare.predict(["a lovely film"])


def test_a_tokenizer_that_is_not_one_is_an_error_before_training(tokenizer):
    dd = sentiment_dict(tokenizer, n=100)
    before = list(nbtrain.runs)
    with pytest.raises(ConfigError, match="tokenizer= takes a transformers tokenizer"):
        nbtrain.train(dd, model=tiny_bert(tokenizer), tokenizer="bert", epochs=1, display="none", name="bad_tok")
    assert list(nbtrain.runs) == before


def test_the_tokenizer_is_saved_as_its_files_and_loaded_back(run, tmp_path):
    path = run.save(tmp_path / "texts.nbtrain")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert "tokenizer/tokenizer.json" in names and "tokenizer/tokenizer_config.json" in names
    assert not any(n.endswith((".pkl", ".pt")) for n in names)  # no pickle anywhere
    back = nbtrain.load(path)
    assert type(back.tokenizer).__name__ == type(run.tokenizer).__name__
    assert back.tokenizer("the movie was great")["input_ids"] == run.tokenizer("the movie was great")["input_ids"]
    assert list(back.predict(NEW)) == list(run.predict(NEW))
    np.testing.assert_allclose(back.predict_proba(NEW), run.predict_proba(NEW), atol=1e-6)


def test_a_stored_run_keeps_its_tokenizer(run):
    nbtrain.runs.keep(run)  # what train did at the end: written to the run store
    stored = nbtrain.runs.stored("texts")
    assert stored is not None
    back = nbtrain.load("texts")
    assert back.tokenizer is not None and list(back.predict(NEW)) == list(run.predict(NEW))


def test_a_tokenizer_file_with_a_path_is_refused(run, tmp_path):
    path = run.save(tmp_path / "evil.nbtrain")
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("tokenizer/../../escape.json", b"{}")
    with pytest.raises(nbtrain.NbtrainError, match="not plain file names"):
        nbtrain.load(path)
