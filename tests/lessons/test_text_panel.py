"""Lesson 11's pieces: sentences read from docstrings, the corpus and its labels, the tokenizers trained
on the spot, and the tokenizer panel (without a front end)."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("tokenizers")
pytest.importorskip("transformers")

from nbtrain.lessons import text_panels as tp

DOC = """Applies a linear transformation to the incoming data.

This module supports :ref:`TensorFloat32<tf32_on_ampere>` and uses :class:`~torch.nn.Parameter` weights.

.. math::
    y = x A^T + b

Args:
    in_features: size of each input sample, in ``float32`` or ``float64``
    bias: If set to ``False``, the layer will not learn an additive bias.

Example::

    >>> m = nn.Linear(20, 30)
    >>> output = m(input)

Short one.
"""


def test_prose_sentences_without_code_math_or_markup():
    out = tp.doc_sentences(DOC)
    assert out[0] == "Applies a linear transformation to the incoming data."
    assert "This module supports TensorFloat32 and uses Parameter weights." in out
    assert "bias: If set to False, the layer will not learn an additive bias." in out
    assert not any("A^T" in s or ">>>" in s or "nn.Linear(20" in s or "`" in s for s in out)
    assert "Short one." not in out  # fewer than five words
    assert all(not s.startswith(("Args", "Example")) for s in out)


def test_corpus_labels_caps_and_drops_shared_sentences():
    class A:
        """The learning rate is multiplied by gamma every epoch. Shared sentence that both groups have."""

    class B:
        """Samples from a normal distribution with a given scale. Shared sentence that both groups have."""

    class C:
        """Returns the sum of all the elements of the input tensor. Returns the mean of all the input values."""

    texts, labels = tp.corpus({"a": [A], "b": [B], "c": [C]})
    assert sorted(zip(labels, texts)) == [
        ("a", "The learning rate is multiplied by gamma every epoch."),
        ("b", "Samples from a normal distribution with a given scale."),
        ("c", "Returns the mean of all the input values."),
        ("c", "Returns the sum of all the elements of the input tensor."),
    ]
    capped = tp.corpus({"a": [A], "c": [C]}, per_class=1, seed=3)
    assert sorted(capped[1]) == ["a", "c"] and capped == tp.corpus({"a": [A], "c": [C]}, per_class=1, seed=3)


def test_torch_doc_kinds_put_each_class_where_it_belongs():
    import torch

    kinds = tp.torch_doc_kinds()
    assert list(kinds) == ["layer", "activation", "loss", "optimizer", "scheduler", "distribution", "tensor op"]
    assert torch.nn.MSELoss in kinds["loss"] and torch.nn.ReLU in kinds["activation"]
    assert torch.nn.Conv2d in kinds["layer"] and torch.nn.MultiheadAttention in kinds["layer"]
    assert torch.optim.Adam in kinds["optimizer"] and torch.optim.lr_scheduler.StepLR in kinds["scheduler"]
    assert all(c.__module__.startswith("torch.optim.lr_scheduler") for c in kinds["scheduler"])  # no typing.Any
    assert torch.distributions.Normal in kinds["distribution"] and torch.sum in kinds["tensor op"]


TEXTS = ["the learning rate decays", "the input tensor is reshaped", "a normal distribution of the input"] * 3


def test_word_level_tokenizer_is_the_same_on_every_run_and_knows_only_its_words():
    a, b = tp.train_tokenizer(TEXTS, 100, "word"), tp.train_tokenizer(TEXTS, 100, "word")
    assert a.get_vocab() == b.get_vocab()
    assert a.encode("The learning rate explodes", add_special_tokens=False).tokens == [
        "the",
        "learning",
        "rate",
        "[UNK]",
    ]
    words = {w for t in TEXTS for w in t.split()}
    assert set(a.get_vocab()) == words | set(tp.SPECIAL)


def test_wordpiece_splits_an_unknown_word_into_known_pieces():
    tok = tp.train_tokenizer(TEXTS, 60, "wordpiece")
    pieces = tok.encode("reshapes", add_special_tokens=False).tokens
    assert "[UNK]" not in pieces and len(pieces) > 1 and all(p.startswith("##") for p in pieces[1:])
    assert "".join(p.removeprefix("##") for p in pieces) == "reshapes"
    with pytest.raises(ValueError, match="unknown tokenizer kind"):
        tp.train_tokenizer(TEXTS, 60, "bpe")


def test_wrapped_tokenizer_adds_cls_sep_and_pads():
    tok = tp.wrap(tp.train_tokenizer(TEXTS, 100, "word"), max_length=8)
    enc = tok(["the input tensor"], padding="max_length", max_length=8, truncation=True)
    ids = enc["input_ids"][0]
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "the", "input", "tensor", "[SEP]"] + ["[PAD]"] * 3
    assert enc["attention_mask"][0] == [1] * 5 + [0] * 3


def test_coverage_counts_unknown_tokens_and_cut_sentences():
    tok = tp.train_tokenizer(TEXTS, 100, "word")
    held = ["the learning rate explodes quickly", "the input"]  # 2 unknown of 7 words; 5 + 2 > 6 cuts the first
    c = tp.coverage(tok, held, max_length=6)
    assert c["unknown share"] == pytest.approx(2 / 7) and c["cut share"] == 0.5
    assert c["tokens per sentence"] == 3.5


def test_tokenizer_panel_redraws_for_the_sentence_and_the_tokenizer():
    panel = tp.tokenizer_explorer(TEXTS * 5, TEXTS, sentence="the input reshapes", vocab_size=100, max_length=8)
    png, summary = panel.draw()
    assert png.startswith(b"\x89PNG")
    rows = dict(summary.rows)
    assert rows["tokens"] == "[CLS] the input [UNK] [SEP]" and rows["unknown in this sentence"] == "1 of 3 tokens"
    assert summary.title == "word-level, vocabulary up to 100, length 8"
    rows = dict(panel.update(kind="WordPiece").rows)
    assert "[UNK]" not in rows["tokens"] and "##" in rows["tokens"]
    rows = dict(panel.update(kind="word-level", sentence="the learning rate decays the input tensor is reshaped").rows)
    assert rows["tokens"] == "[CLS] the learning rate decays the input tensor (+3 cut)"
