"""Raw texts as model inputs: a run's ``tokenizer`` turns ``run.predict("a new sentence")`` into tensors.

A run trained with ``tokenizer=tok`` (or a ``%%train`` cell that declares ``tokenizer = tok``) keeps it
as ``run.tokenizer``.  Then ``run.predict`` / ``run.predict_proba`` / ``%predict`` take a string, a list
(or tuple, numpy array, pandas Series) of strings: they are tokenized with padding to the longest and
truncation to what the model's position embeddings hold, as torch tensors, and only the arguments the
model's ``forward`` takes are kept (``input_ids``, ``attention_mask``, ...).  The tokenizer itself is
never imported here: it is the user's object.

>>> run.predict(["a lovely film", "an awful plot"])     # doctest: +SKIP
array(['pos', 'neg'], dtype=object)
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import ConfigError, DataTypeError

#: the config fields that say how many positions a transformers model embeds
POSITIONS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


def check_tokenizer(tokenizer):
    """``tokenizer=``: None or a transformers tokenizer (callable, with ``save_pretrained`` to be saved)."""
    if tokenizer is None:
        return None
    if not callable(tokenizer) or not callable(getattr(tokenizer, "save_pretrained", None)):
        raise ConfigError(
            f"tokenizer= takes a transformers tokenizer (e.g. AutoTokenizer.from_pretrained(...) or "
            f"PreTrainedTokenizerFast(...)), got {type(tokenizer).__name__}."
        )
    return tokenizer


def as_texts(X):
    """``X`` as a list of str when it is a str or a sequence of them (list, tuple, 1-D numpy array,
    pandas Series), else None."""
    if isinstance(X, str):
        return [X]
    if type(X).__name__ == "Series" and getattr(X, "ndim", 0) == 1:
        X = X.tolist()
    elif isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "UO":
        X = X.tolist()
    if isinstance(X, (list, tuple)) and X and all(isinstance(t, str) for t in X):
        return list(X)
    return None


def no_tokenizer(run) -> DataTypeError:
    return DataTypeError(
        f"run {run.name!r} was given texts but has no tokenizer to turn them into model inputs; train with "
        "tokenizer=tok (in a %%train cell: tokenizer = tok), or set run.tokenizer = tok, or give token tensors."
    )


def max_length(model, tokenizer) -> int | None:
    """How many tokens fit: the model's position embeddings, else the tokenizer's own limit."""
    base = getattr(model, "get_base_model", lambda: model)()
    config = getattr(base, "config", None)
    for name in POSITIONS:
        n = getattr(config, name, None)
        if isinstance(n, int) and n > 0:
            return n
    n = getattr(tokenizer, "model_max_length", None)
    return n if isinstance(n, int) and 0 < n < 10**6 else None


def encode(run, texts: list) -> dict:
    """The tokenizer's tensors for ``texts`` (padded, truncated), only those the model's forward takes,
    on the run's device."""
    from .hf import LABELS, forward_names

    tokenizer = getattr(run, "tokenizer", None)
    if tokenizer is None:
        raise no_tokenizer(run)
    n = max_length(run.model, tokenizer)
    kw = {"max_length": n} if n is not None else {}
    enc = tokenizer(texts, padding=True, truncation=True, return_tensors="pt", **kw)
    takes = forward_names(run.model)
    kept = {k: v for k, v in dict(enc).items() if k != LABELS and (takes is None or k in takes)}
    if not kept:
        raise DataTypeError(
            f"the tokenizer gives {sorted(dict(enc))}, none of which {type(run.model).__name__}.forward takes."
        )
    return {k: v.to(run.device) if isinstance(v, torch.Tensor) else v for k, v in kept.items()}
