"""Causal language models: a ``*ForCausalLM`` (or ``*LMHeadModel``) trains on its own loss, and is
measured by its perplexity.

- The task is told by the model: a transformers model whose class name ends in ``ForCausalLM`` or
  ``LMHeadModel`` (``GPT2LMHeadModel``, ``LlamaForCausalLM``, ...; the base model of a peft model)
  whose targets are token ids per position.  Its classes are its vocabulary (``config.vocab_size``).
- A Hugging Face Dataset with no ``labels`` / ``label`` column gets ``labels`` made from ``input_ids``
  (-100 where ``attention_mask`` is 0), so it trains with torch's default collate on equal-length
  blocks; a ``collate=`` such as ``DataCollatorForLanguageModeling(tokenizer, mlm=False)`` makes them
  itself (those made here are taken out of the items it sees).
- ``perplexity`` is ``exp`` of the mean token loss over the labelled tokens of a split: the model
  predicts token ``t+1`` from the tokens up to ``t`` (the shift that happens inside the model), so the
  logits at ``0..T-2`` are scored against the labels at ``1..T-1``; positions labelled -100 count
  nowhere; the mean is over tokens of the whole split (not a mean of per-batch means).  ``val_loss``
  is that same mean token loss.  Accuracy, f1 and the like are not offered.

>>> collate = DataCollatorForLanguageModeling(tok, mlm=False)                   # doctest: +SKIP
>>> run = nbtrain.train(dd, model=GPT2LMHeadModel(config), collate=collate)   # doctest: +SKIP
>>> run.evaluate()                                                            # doctest: +SKIP
{'perplexity': 1.8}
"""

from __future__ import annotations

import math

import torch

from . import batch, targets
from .errors import ConfigError

METRICS = ("perplexity", "loss")
DEFAULT = ("perplexity",)
#: logits held at once while scoring a split (rows x positions x vocabulary): bounds the memory of a big batch
MAX_LOGITS = 2**25


def is_causal_lm(model) -> bool:
    """A transformers causal language model (told by its class name; peft models by their base)."""
    base = getattr(model, "get_base_model", None)
    if callable(base):
        model = base()
    name = type(model).__name__
    return isinstance(model, torch.nn.Module) and (name.endswith("ForCausalLM") or name.endswith("LMHeadModel"))


def vocab_size(model) -> int | None:
    base = getattr(model, "get_base_model", lambda: model)()
    n = getattr(getattr(base, "config", None), "vocab_size", None)
    return n if isinstance(n, int) and n >= 2 else None


def metric_names(metrics) -> tuple:
    """``metrics=`` for a language model: perplexity (the default) and loss; anything else is an error."""
    if metrics is None:
        return DEFAULT
    names = [m.strip().lower() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics)
    for m in names:
        if m not in METRICS:
            raise ConfigError(
                f"metric {m!r} does not fit a causal language model, which predicts the next token; use perplexity "
                "(exp of the mean token loss) or loss."
            )
    return tuple(dict.fromkeys(names))


def strip_labels(collate):
    """A collate function that gets the items without the ``labels`` made here (it makes its own)."""

    def collate_without_labels(items):
        return collate([{k: v for k, v in item.items() if k != "labels"} for item in items])

    collate_without_labels.wrapped = collate
    return collate_without_labels


@torch.no_grad()
def token_loss(model, batches, precision) -> tuple:
    """``(sum of the token losses, labelled tokens)`` over a split, from the model's logits with the shift
    (logits at t against labels at t+1); one host read at the end."""
    was = model.training
    model.eval()
    total, count = None, None
    try:
        for xb, yb in batches.epoch(shuffle=False):
            n, t = yb.shape[0], yb.shape[1]
            step = max(1, MAX_LOGITS // max(1, t * (vocab_size(model) or 1)))
            for lo in range(0, n, step):
                x, y = batch.take(xb, lo, min(n, lo + step)), yb[lo : lo + step]
                with precision.autocast():
                    logits = batch.logits(batch.call(model, x, None))
                pred, gold = logits[:, :-1].float(), y[:, 1:]
                s = torch.nn.functional.cross_entropy(
                    pred.reshape(-1, pred.shape[-1]), gold.reshape(-1), ignore_index=targets.IGNORE, reduction="sum"
                )
                c = (gold != targets.IGNORE).sum()
                total, count = (s, c) if total is None else (total + s, count + c)
    finally:
        model.train(was)
    if total is None:
        return 0.0, 0
    return float(total), int(count)  # the host reads


def scores(model, batches, precision, names) -> dict:
    """``{"loss": mean token loss, "perplexity": exp of it}``, those of ``names`` (loss always)."""
    total, count = token_loss(model, batches, precision)
    mean = total / count if count else float("nan")
    out = {"loss": mean}
    if "perplexity" in names:
        out["perplexity"] = math.exp(mean) if mean < 700 else float("inf")
    return out


def make_evaluator(precision, names):
    """The per-epoch validation function of a language model: val_loss (mean token loss) and perplexity."""

    def evaluate(model, batches) -> dict:
        return scores(model, batches, precision, names)

    return evaluate


def evaluate(run, on: str, metrics) -> dict:
    """``run.evaluate`` of a language model: perplexity (and loss) on a split."""
    names = metric_names(metrics)
    batches = run._batches_for(on)
    try:
        values = scores(run.model, batches, run._precision, names)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    return {n: values[n] for n in names}


def refuse_lm(run) -> None:
    """``predict`` / ``predictions`` of a causal language model: one error saying what to use instead."""
    if not (run.config or {}).get("lm"):
        return
    raise ConfigError(
        f"run {run.name!r} is a causal language model: it predicts the next token, so there are no labels to "
        "predict or plot; use run.evaluate() for its perplexity, or run.model.generate(...) for text."
    )
