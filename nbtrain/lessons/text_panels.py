"""Lesson 11, text: a corpus read from PyTorch's own documentation (its docstrings ship inside the
installed package, so nothing is downloaded), a tokenizer trained on it on the spot, and a panel that
shows how a tokenizer splits a sentence and how the vocabulary size changes what a model sees.

``tokenizers`` and ``transformers`` are imported inside the functions that use them (the ``hf`` extra).
"""

from __future__ import annotations

import inspect
import re

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .explorer import Explorer, Summary

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]

# ---------------------------------------------------------------- the corpus

_ROLE = re.compile(r":[a-z:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")  # :class:`~torch.nn.Linear` -> torch.nn.Linear
_LITERAL = re.compile(r"``([^`]*)``|`([^`]*)`")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z])")
_SECTION = re.compile(r"^[A-Z][A-Za-z ]{0,30}:$")  # a section heading alone on its line: "Args:", "Shape:"
_ENTRY = re.compile(r"^\*{0,2}\w+(?: \([^)]*\))?:\s")  # an argument's entry: "lr (float, optional): ..."
_HEADING = re.compile(
    r"^(?:args|arguments|keyword args|keyword arguments|returns?|examples?|notes?|shape|attributes)\s*:\s*", re.I
)


def _prose(doc: str) -> list[str]:
    """The paragraphs of a docstring that are prose: no directive or code blocks (a line ending in
    ``::`` and what is indented under it), no doctest lines, no section headings."""
    paragraphs, current, skip_indent = [], [], None
    for line in doc.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                continue
            skip_indent = None
        if not stripped:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        if stripped.startswith((">>>", "...", ".. ")) or stripped.endswith("::"):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            skip_indent = indent
            if stripped.endswith("::") and not stripped.startswith(".. "):
                current = [stripped[:-1]]  # "Example::" -> "Example:" (the block under it is code)
            continue
        if _SECTION.match(stripped) or _ENTRY.match(stripped):  # "Args:" alone, or "lr (float): ..." starts anew
            if current:
                paragraphs.append(" ".join(current))
            current = [] if _SECTION.match(stripped) else [stripped]
            continue
        current.append(stripped)
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def doc_sentences(doc: str, min_words: int = 5, max_words: int = 40) -> list[str]:
    """Prose sentences of one docstring, with reStructuredText roles and literals reduced to their text.
    Sentences shorter than ``min_words`` or longer than ``max_words`` words, or mostly symbols, are left out."""
    out = []
    for para in _prose(doc or ""):
        para = _ROLE.sub(lambda m: m.group(1).split(".")[-1], para)
        para = _LITERAL.sub(lambda m: m.group(1) or m.group(2), para)
        for s in _SENTENCE_END.split(para):
            s = _HEADING.sub("", " ".join(s.split()))
            words = s.split()
            letters = sum(c.isalpha() or c.isspace() for c in s)
            if min_words <= len(words) <= max_words and letters >= 0.8 * len(s):
                out.append(s)
    return out


def _public(module, keep) -> list:
    return [getattr(module, n) for n in sorted(dir(module)) if not n.startswith("_") and keep(getattr(module, n))]


def torch_doc_objects() -> dict:
    """What each part of PyTorch documents, by part: ``nn`` (layers and losses), ``optim`` (optimizers
    and learning-rate schedulers), ``distributions`` and ``tensor`` (the functions in ``torch``)."""
    import torch
    from torch import distributions, nn, optim

    def is_class_of(base):
        return lambda o: inspect.isclass(o) and issubclass(o, base)

    return {
        "nn": _public(nn, is_class_of(nn.Module)),
        "optim": _public(optim, is_class_of(optim.Optimizer))
        + _public(optim.lr_scheduler, lambda o: inspect.isclass(o) and o.__module__ == optim.lr_scheduler.__name__),
        "distributions": _public(distributions, is_class_of(distributions.Distribution)),
        "tensor": _public(torch, lambda o: callable(o) and not inspect.isclass(o) and not inspect.ismodule(o)),
    }


def torch_doc_kinds() -> dict:
    """What each sentence documents, finer: a ``layer``, an ``activation`` or a ``loss`` (``torch.nn``, by the
    file that defines the class), an ``optimizer`` or a learning-rate ``scheduler`` (``torch.optim``), a
    ``distribution`` and a ``tensor op`` (a function in ``torch``)."""
    from torch import nn, optim

    parts = torch_doc_objects()

    def nn_kind(cls):
        if cls is nn.MultiheadAttention:  # defined in activation.py, but a layer with weights
            return "layer"
        return {"loss": "loss", "activation": "activation"}.get(cls.__module__.rsplit(".", 1)[-1], "layer")

    return {
        "layer": [c for c in parts["nn"] if nn_kind(c) == "layer"],
        "activation": [c for c in parts["nn"] if nn_kind(c) == "activation"],
        "loss": [c for c in parts["nn"] if nn_kind(c) == "loss"],
        "optimizer": [c for c in parts["optim"] if issubclass(c, optim.Optimizer)],
        "scheduler": [c for c in parts["optim"] if not issubclass(c, optim.Optimizer)],
        "distribution": parts["distributions"],
        "tensor op": parts["tensor"],
    }


def corpus(objects: dict, per_class: int | None = None, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(sentences, labels)``: the prose sentences of the objects' docstrings, labelled with their group,
    each sentence once (a sentence that two groups share is left out); at most ``per_class`` a group,
    drawn at random with ``seed``, in a shuffled order."""
    seen: dict[str, set] = {}
    for label, objs in objects.items():
        for doc in dict.fromkeys(inspect.getdoc(o) or "" for o in objs):
            for s in doc_sentences(doc):
                seen.setdefault(s, set()).add(label)
    by_label: dict[str, list[str]] = {label: [] for label in objects}
    for s, labels in seen.items():
        if len(labels) == 1:
            by_label[next(iter(labels))].append(s)
    rng = np.random.default_rng(seed)
    texts, ys = [], []
    for label, sentences in by_label.items():
        if per_class is not None and len(sentences) > per_class:
            sentences = [sentences[i] for i in sorted(rng.choice(len(sentences), per_class, replace=False))]
        texts += sentences
        ys += [label] * len(sentences)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], [ys[i] for i in order]


# ---------------------------------------------------------------- the tokenizer


def train_tokenizer(texts, vocab_size: int = 1000, kind: str = "wordpiece"):
    """A ``tokenizers.Tokenizer`` trained on ``texts``: lower-cased, split on whitespace and punctuation,
    then ``wordpiece`` (words it has not kept are split into known pieces, ``##`` marks a continuation) or
    ``word`` (one token a word; a word outside the vocabulary becomes ``[UNK]``)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    if kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False)
    elif kind == "word":
        tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False)
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}: use 'wordpiece' or 'word'")
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def wrap(tok, max_length: int | None = None):
    """The ``tokenizers.Tokenizer`` as a transformers ``PreTrainedTokenizerFast`` (what ``%predict`` and
    ``datasets.map`` call), with ``[CLS] ... [SEP]`` around each sentence."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    kw = {"model_max_length": max_length} if max_length else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", **kw
    )


def coverage(tok, texts, max_length: int) -> dict:
    """What a model sees of ``texts`` through ``tok`` (no special tokens counted): tokens per sentence
    (median), the share of tokens that are ``[UNK]``, and the share of sentences cut at ``max_length``
    (which counts ``[CLS]`` and ``[SEP]``)."""
    unk = tok.token_to_id("[UNK]")
    lengths, n_unk = [], 0
    for enc in tok.encode_batch(list(texts), add_special_tokens=False):
        lengths.append(len(enc.ids))
        n_unk += sum(i == unk for i in enc.ids)
    lengths = np.asarray(lengths)
    return {
        "tokens per sentence": float(np.median(lengths)),
        "unknown share": n_unk / max(int(lengths.sum()), 1),
        "cut share": float(np.mean(lengths + 2 > max_length)),
    }


def tokenizer_explorer(
    texts,
    held_out=None,
    sentence="The optimizer lowers the learning rate after every epoch.",
    kind="word-level",
    vocab_size=1000,
    max_length=32,
):
    """Type a sentence, pick the tokenizer (word-level or WordPiece), its vocabulary size and the sequence
    length: the sentence's tokens as the model gets them, and what the choice does to the ``held_out``
    sentences (default: ``texts``), for a tokenizer trained on ``texts``."""
    texts = list(texts)
    held_out = texts if held_out is None else list(held_out)
    sizes = sorted({100, 250, 500, 1000, 2000, 4000, vocab_size})
    cache: dict = {}
    measured: dict = {}

    def tokenizer(kind, size):
        if (kind, size) not in cache:
            cache[kind, size] = train_tokenizer(texts, size, kind)
        return cache[kind, size]

    def measure(kind, size, max_length):  # the curves do not change with the sentence typed: once each
        if (kind, size, max_length) not in measured:
            measured[kind, size, max_length] = coverage(tokenizer(kind, size), held_out, max_length)
        return measured[kind, size, max_length]

    def render(sentence, kind, vocab_size, max_length):
        name, kind = kind, {"WordPiece": "wordpiece", "word-level": "word"}[kind]
        tok = tokenizer(kind, vocab_size)
        pieces = ["[CLS]"] + tok.encode(sentence, add_special_tokens=False).tokens + ["[SEP]"]
        fig = Figure(figsize=(10, 4.6))
        top, bottom = fig.subfigures(2, 1, height_ratios=[1, 2.2])
        _draw_tokens(top.subplots(), pieces, max_length)
        left, right = bottom.subplots(1, 2)
        curves = {k: [measure(k, s, max_length) for s in sizes] for k in ("word", "wordpiece")}
        for k, label in (("word", "word-level"), ("wordpiece", "WordPiece")):
            left.plot(sizes, [c["unknown share"] * 100 for c in curves[k]], "o-", label=label)
            right.plot(sizes, [c["tokens per sentence"] for c in curves[k]], "o-", label=label)
        here = measure(kind, vocab_size, max_length)
        left.plot([vocab_size], [here["unknown share"] * 100], "o", ms=13, mfc="none", mec="k", label="your choice")
        right.plot([vocab_size], [here["tokens per sentence"]], "o", ms=13, mfc="none", mec="k", label="your choice")
        right.axhline(max_length - 2, ls=":", color="grey", label="length (without [CLS], [SEP])")
        for a, ylabel in ((left, "[UNK] share of the tokens (%)"), (right, "tokens a sentence (median)")):
            a.set_xscale("log")
            a.set_xticks(sizes, [str(s) for s in sizes])
            a.set_xlabel("vocabulary size (largest allowed)")
            a.set_ylabel(ylabel)
            a.set_ylim(bottom=0)
            a.grid(alpha=0.3)
            a.legend(fontsize=8)
        shown = pieces[:max_length]
        rows = [
            ("tokens", " ".join(shown) + (f" (+{len(pieces) - max_length} cut)" if len(pieces) > max_length else "")),
            ("unknown in this sentence", f"{pieces.count('[UNK]')} of {len(pieces) - 2} tokens"),
            ("vocabulary", f"{tok.get_vocab_size()} tokens"),
            ("held-out sentences: [UNK] share", f"{here['unknown share']:.1%}"),
            ("held-out sentences: cut at the length", f"{here['cut share']:.1%}"),
        ]
        return fig, Summary(rows, title=f"{name}, vocabulary up to {vocab_size}, length {max_length}")

    controls = {
        "sentence": widgets.Text(value=sentence, description="sentence", continuous_update=False),
        "kind": widgets.ToggleButtons(options=["word-level", "WordPiece"], value=kind, description="tokenizer"),
        "vocab_size": widgets.SelectionSlider(options=sizes, value=vocab_size, description="vocabulary"),
        "max_length": widgets.SelectionSlider(
            options=sorted({8, 12, 16, 24, 32, 48, 64, max_length}), value=max_length, description="length"
        ),
    }
    controls["sentence"].layout.width = "80%"
    return Explorer(controls, render, title="Text: tokenizer, vocabulary and sequence length")


def _draw_tokens(ax, pieces, max_length):
    """The tokens as boxes in a row (wrapping), coloured: special, unknown, a word's continuation, cut off."""
    x, y, width = 0.0, 0.0, 60.0
    for i, p in enumerate(pieces):
        w = max(len(p), 2) + 1.5
        if x + w > width:
            x, y = 0.0, y - 1.4
        if i >= max_length:
            color = "#dddddd"
        elif p == "[UNK]":
            color = "#fcae91"
        elif p in SPECIAL:
            color = "#c6dbef"
        elif p.startswith("##"):
            color = "#c7e9c0"
        else:
            color = "#fff7bc"
        ax.add_patch(_box((x, y), w - 0.4, 1.0, color))
        ax.text(x + (w - 0.4) / 2, y + 0.5, p, ha="center", va="center", fontsize=9, family="monospace")
        x += w
    ax.set_xlim(0, width)
    ax.set_ylim(y - 0.2, 1.2)
    ax.axis("off")
    ax.set_title(
        "tokens (blue: special, red: unknown, green: a word's continuation, grey: beyond the length)", fontsize=9
    )


def _box(xy, w, h, color):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch(xy, w, h, boxstyle="round,pad=0.05", fc=color, ec="#888888", lw=0.6)
