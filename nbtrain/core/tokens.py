"""Token ids read back as text, for explanations of runs on token data.

A tokenizer here is one of: a ``transformers`` tokenizer (``convert_ids_to_tokens``, ``decode``), a
``tokenizers.Tokenizer`` (``id_to_token``, ``decode``), a list of strings (the token of id ``i`` is
``vocab[i]``) or a dict ``{token: id}``.  :class:`Tokens` gives one interface to all four: the tokens
of a row, which of them are special (``[CLS]``, ``<s>``) or padding, and the text.

>>> tok = Tokens.of(["[PAD]", "good", "movie"])      # doctest: +SKIP
>>> tok.tokens([1, 2, 0]), tok.text([1, 2, 0])       # doctest: +SKIP
(['good', 'movie', '[PAD]'], 'good movie')
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from .errors import ConfigError

#: where a dict of inputs keeps its token ids and its padding mask (the transformers names)
IDS_KEYS = ("input_ids", "ids", "tokens", "token_ids")
MASK_KEY = "attention_mask"
#: tokens of a plain vocabulary written like these count as special (``[PAD]``, ``<pad>``, ``<s>``)
_SPECIAL = re.compile(r"^(\[[A-Za-z_]+\]|<[/A-Za-z_|]+>)$")
_PAD = re.compile(r"^(\[PAD\]|<pad>)$", re.IGNORECASE)


class Tokens:
    """One way to read token ids whatever the tokenizer (see the module's docstring)."""

    def __init__(self, to_tokens, decode, special: set, pad):
        self._to_tokens, self._decode, self.special, self.pad = to_tokens, decode, special, pad

    @classmethod
    def of(cls, tokenizer) -> Tokens | None:
        """A :class:`Tokens` for ``tokenizer`` (None for None); a ConfigError for anything else."""
        if tokenizer is None or isinstance(tokenizer, Tokens):
            return tokenizer
        if hasattr(tokenizer, "convert_ids_to_tokens"):  # transformers
            special = {int(i) for i in getattr(tokenizer, "all_special_ids", ()) if i is not None}
            pad = getattr(tokenizer, "pad_token_id", None)
            return cls(
                lambda ids: list(tokenizer.convert_ids_to_tokens(ids)),
                lambda ids: tokenizer.decode(ids, skip_special_tokens=True),
                special,
                pad,
            )
        if hasattr(tokenizer, "id_to_token") and hasattr(tokenizer, "decode"):  # tokenizers.Tokenizer
            vocab = tokenizer.get_vocab(with_added_tokens=True)
            special = {i for t, i in vocab.items() if _SPECIAL.match(t)}
            pad = next((i for t, i in vocab.items() if _PAD.match(t)), None)
            padding = getattr(tokenizer, "padding", None)
            if isinstance(padding, dict) and "pad_id" in padding:
                pad = padding["pad_id"]
            return cls(
                lambda ids: [tokenizer.id_to_token(int(i)) or "" for i in ids],
                lambda ids: tokenizer.decode([int(i) for i in ids], skip_special_tokens=True),
                special,
                pad,
            )
        if isinstance(tokenizer, Mapping):
            tokenizer = _vocab_list({str(t): int(i) for t, i in tokenizer.items()})
        if isinstance(tokenizer, (list, tuple)) and all(isinstance(t, str) for t in tokenizer):
            vocab = list(tokenizer)
            special = {i for i, t in enumerate(vocab) if _SPECIAL.match(t)}
            pad = next((i for i, t in enumerate(vocab) if _PAD.match(t)), None)

            def to_tokens(ids):
                return [vocab[i] if 0 <= i < len(vocab) else "" for i in map(int, ids)]

            return cls(
                to_tokens,
                lambda ids: " ".join(t for i, t in zip(ids, to_tokens(ids)) if i not in special),
                special,
                pad,
            )
        raise ConfigError(
            f"tokenizer= is a transformers tokenizer, a tokenizers.Tokenizer, a list of tokens (id -> token) or a "
            f"dict {{token: id}}; got {type(tokenizer).__name__}."
        )

    def tokens(self, ids) -> list:
        return self._to_tokens([int(i) for i in ids])

    def text(self, ids, mask=None) -> str:
        """The row as text, special tokens and padding left out."""
        return self._decode([int(i) for i in _kept(ids, mask, self.pad)])

    def kinds(self, ids, mask=None) -> list:
        """For every position: ``"pad"`` (padding, or masked out), ``"special"`` or ``"token"``."""
        out = []
        for n, i in enumerate(int(v) for v in ids):
            if (mask is not None and not mask[n]) or (self.pad is not None and i == self.pad):
                out.append("pad")
            else:
                out.append("special" if i in self.special else "token")
        return out


def _vocab_list(vocab: dict) -> list:
    out = [""] * (max(vocab.values()) + 1 if vocab else 0)
    for t, i in vocab.items():
        out[i] = t
    return out


def _kept(ids, mask, pad):
    return [i for n, i in enumerate(ids) if (mask is None or mask[n]) and (pad is None or int(i) != pad)]


def token_entry(inputs):
    """``(path, ids, mask)`` of a run's inputs where they hold token ids: a bare 2-D integer array, or a
    dict's ``input_ids`` (or its only 2-D integer entry) with its ``attention_mask``; None otherwise.
    ``inputs`` is a structure of arrays (rows first), as ``Explanation.inputs`` gives them."""
    from .batch import named_leaves

    def ints(a):
        return a is not None and np.ndim(a) == 2 and np.asarray(a).dtype.kind in "iu"

    if not isinstance(inputs, (Mapping, tuple, list)):
        return ("", np.asarray(inputs), None) if ints(inputs) else None
    leaves = dict(named_leaves(inputs))
    path = next((k for k in IDS_KEYS if k in leaves and ints(leaves[k])), None)
    if path is None:
        candidates = [p for p, a in leaves.items() if ints(a) and p != MASK_KEY]
        if len(candidates) != 1:
            return None
        path = candidates[0]
    mask = leaves.get(MASK_KEY)
    return path, np.asarray(leaves[path]), None if mask is None else np.asarray(mask)
