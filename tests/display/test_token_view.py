"""Per-token colours (nbtrain.display.tokens): every token readable on its own colour (WCAG contrast
computed here from the rendered styles), padding left out, special tokens dimmed, the legend's scale;
the tokenizer adapters (a vocabulary, a tokenizers.Tokenizer) read the same ids alike."""

import re

import numpy as np
import pytest

from nbtrain.core.tokens import Tokens, token_entry
from nbtrain.display.tokens import STOPS, TokenRow, TokenView, scale


def _rgb(hex_colour):
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def _contrast(a, b):
    def lum(c):
        c = [v / 255 for v in c]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_token_reads_on_its_colour_and_padding_is_left_out():
    values = list(np.linspace(-2.0, 2.0, 41))
    row = TokenRow("row 0: neg / pos", [f"t{i}" for i in range(41)] + ["[PAD]"], ["token"] * 41 + ["pad"], values + [0])
    special = TokenRow("row 1", ["[CLS]", "<b>x</b>"], ["special", "token"], [0.5, 1.0])
    page = TokenView([row, special], title="attributions")._repr_html_()
    spans = re.findall(r'<span class="nbtrain-token" title="[^"]*" style="background-color:(#\w+);color:(#\w+)', page)
    assert len(spans) == 42  # 41 + the escaped one; no [PAD]
    assert "[PAD]" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    worst = min(_contrast(_rgb(bg), _rgb(fg)) for bg, fg in spans)
    assert worst >= 4.5, worst
    dim = re.search(r'class="nbtrain-token special"[^>]*style="color:(#\w+)', page).group(1)
    assert _contrast(_rgb(dim), (255, 255, 255)) >= 4.5  # on the view's own white
    assert page.startswith('<div class="nbtrain-tokens" style="background-color:#ffffff;color:#000000')
    assert (
        "&minus;2 against" in page and "+2 for the predicted class" in page
    )  # the legend's scale: the largest |value|


def test_the_scale_is_diverging_and_symmetric():
    assert scale(0) == STOPS[2][1] and scale(1) == STOPS[-1][1] and scale(-1) == STOPS[0][1]
    assert scale(5) == scale(1) and scale(0.25)[0] > scale(-0.25)[0]  # red for, blue against
    view = TokenView([TokenRow("r", ["a", "b"], ["token"] * 2, [0.5, -0.25])], title="t")
    assert view.text().splitlines()[1] == "r: a(+0.50) b(-0.25)"


VOCAB = ["[PAD]", "[CLS]", "good", "movie", "<unk>"]


def test_a_vocabulary_and_a_tokenizers_tokenizer_read_ids_alike():
    tokenizers = pytest.importorskip("tokenizers")
    ids = [1, 2, 3, 0, 0]
    plain = Tokens.of(VOCAB)
    assert plain.tokens(ids) == ["[CLS]", "good", "movie", "[PAD]", "[PAD]"]
    assert plain.kinds(ids) == ["special", "token", "token", "pad", "pad"]
    assert plain.text(ids) == "good movie"
    assert Tokens.of({t: i for i, t in enumerate(VOCAB)}).tokens(ids) == plain.tokens(ids)
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({t: i for i, t in enumerate(VOCAB)}, unk_token="<unk>"))
    fast = Tokens.of(tok)
    assert fast.tokens(ids) == plain.tokens(ids) and fast.kinds(ids) == plain.kinds(ids)
    assert fast.kinds(ids, mask=[1, 1, 0, 1, 1])[2] == "pad"  # masked out


def test_token_entry_finds_the_ids_and_their_mask():
    ids = np.array([[1, 2, 0]])
    mask = np.array([[1, 1, 0]])
    assert token_entry(ids)[0] == ""
    path, got, m = token_entry({"input_ids": ids, "attention_mask": mask})
    assert path == "input_ids" and m is mask
    assert token_entry({"words": ids, "num": np.zeros((1, 3), np.float32)})[0] == "words"
    assert token_entry(np.zeros((1, 3), np.float32)) is None
