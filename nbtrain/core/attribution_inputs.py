"""Attributions of a run with several inputs (a tuple or dict of tensors) or token ids: one attribution
per input tensor, integer inputs through the embedding layers that read them (captum, lazily).

Every floating input passes through an ``nn.Identity`` of its own and every token input through its
embedding, and captum's ``LayerIntegratedGradients`` moves all of them together from the baseline to
the row: the attributions of a row, summed over every input, are its logit minus the baseline's.
An embedding's attribution (one vector a token) is summed over the embedding dimension: one number a
token.  An ``nn.EmbeddingBag`` (which pools its tokens) is read per token for the duration: the same
lookup and pooling, written so that each token's vector can be attributed.

Baselines: floating inputs ``baseline`` (0.0); token ids the padding id (the tokenizer's, else the
embedding's ``padding_idx``, else 0); integer inputs no embedding reads (an ``attention_mask``) keep
their values, and their attribution is 0.

>>> attr = ex.attribute({"num": A[:4], "cat": B[:4]})      # doctest: +SKIP
>>> attr["num"].shape, attr["cat"].shape                    # doctest: +SKIP
((4, 3), (4,))
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch

from . import batch
from .attribution import CHUNK, COMPLETENESS, REFINE, _captum, _targets
from .errors import ConfigError, ExplainError
from .explain_data import rebuild
from .progress import ticker

EMBEDDINGS = (torch.nn.Embedding, torch.nn.EmbeddingBag)


class _Forward:
    """The model as a function of its input leaves, floating leaves through identities (the layers
    captum interpolates), the logits as ``(N, classes)``."""

    def __init__(self, run, template, floating: list):
        self.run, self.template, self.floating = run, template, floating
        self.idents = {i: torch.nn.Identity() for i in floating}

    def __call__(self, *leaves):
        leaves = [self.idents[i](t) if i in self.idents else t for i, t in enumerate(leaves)]
        out = batch.logits(batch.call(self.run.model, rebuild(self.template, leaves))).float()
        out = out.reshape(len(out), -1)
        if self.run.task == "classification" and out.shape[1] == 1:
            out = torch.cat([-out, out], dim=1)  # one-output binary model: class 1's logit is the output
        return out


class _PerToken(torch.nn.Module):
    """An ``nn.EmbeddingBag`` read token by token: the lookup, an identity (what captum attributes),
    then the bag's pooling.  Installed as the bag's ``forward`` for the duration of one attribution."""

    def __init__(self, bag: torch.nn.EmbeddingBag):
        super().__init__()
        self.bag, self.tokens = bag, torch.nn.Identity()

    def forward(self, input, offsets=None, per_sample_weights=None):
        bag = self.bag
        if offsets is not None or input.dim() != 2 or bag.max_norm is not None:
            raise ExplainError(
                "per-token attributions read an nn.EmbeddingBag given (rows, tokens) ids without offsets; "
                "give the ids as a 2-D tensor, or name another layer with layer=."
            )
        e = self.tokens(torch.nn.functional.embedding(input, bag.weight))
        keep = (
            torch.ones_like(input, dtype=e.dtype) if bag.padding_idx is None else (input != bag.padding_idx).to(e.dtype)
        )
        if per_sample_weights is not None:
            keep = keep * per_sample_weights.to(e.dtype)
        if bag.mode == "sum":
            return (e * keep[..., None]).sum(1)
        if bag.mode == "mean":
            return (e * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)
        top = e.masked_fill(keep[..., None] == 0, float("-inf")).amax(1)
        return torch.where(keep.sum(1, keepdim=True) > 0, top, torch.zeros_like(top))  # an empty bag: zeros


def embedding_layers(model) -> list:
    """``[(name, module)]`` of every ``nn.Embedding`` / ``nn.EmbeddingBag`` in ``model``."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, EMBEDDINGS)]


def _named(model, layer) -> list:
    names = [layer] if isinstance(layer, str) else list(layer)
    out = []
    for name in names:
        try:
            out.append((name, model.get_submodule(name)))
        except AttributeError:
            known = ", ".join(repr(n) for n, _ in embedding_layers(model)) or "none"
            raise ConfigError(f"layer={name!r} is not a module of the model; its embedding layers: {known}.") from None
    return out


def _readers(model, layers, forward, leaves) -> dict:
    """Which input leaf each layer reads (the tensor handed to it), found on one forward pass."""
    seen: dict = {}

    def hook(name):
        def pre(module, args, kwargs):
            seen.setdefault(name, [a for a in list(args) + list(kwargs.values()) if torch.is_tensor(a)])

        return pre

    handles = [m.register_forward_pre_hook(hook(n), with_kwargs=True) for n, m in layers]
    try:
        with torch.no_grad():
            forward(*leaves)
    finally:
        for h in handles:
            h.remove()

    def same(a, t):
        return a is t or (a.shape == t.shape and a.dtype == t.dtype and torch.equal(a, t))

    out = {}
    for name, _ in layers:
        hits = [
            i for i, t in enumerate(leaves) if not t.is_floating_point() and any(same(a, t) for a in seen.get(name, ()))
        ]
        out[name] = hits[0] if hits else None
    return out


def _plan(run, layer, forward, leaves, paths, token_path):
    """``[(name, module, leaf index)]``: the layers that carry the integer inputs' attributions."""
    model = run.model
    ints = [i for i, t in enumerate(leaves) if not t.is_floating_point()]
    if layer is not None:
        layers = _named(model, layer)
    else:
        get = getattr(model, "get_input_embeddings", None)  # transformers: the token embedding
        found = get() if callable(get) else None
        named = embedding_layers(model)
        layers = [(n, m) for n, m in named if found is None or m is found or n.endswith("token_type_embeddings")]
    readers = _readers(model, layers, forward, leaves) if ints and layers else {}
    plan = []
    for name, module in layers:
        i = readers.get(name)
        if i is None and layer is not None and token_path in paths:
            i = paths.index(token_path)  # a named layer that reads a transformed copy: the token ids
        if i is not None:
            plan.append((name, module, i))
    if layer is None:
        read = {i for _, _, i in plan}
        unread = [paths[i] or "x" for i in ints if i not in read and "mask" not in paths[i]]
        if unread:
            known = ", ".join(repr(n) for n, _ in embedding_layers(model)) or "none"
            raise ExplainError(
                f"integer input{'s' if len(unread) > 1 else ''} {', '.join(unread)} reach no nn.Embedding "
                f"directly; name the layer that reads {'them' if len(unread) > 1 else 'it'}: layer='NAME' "
                f"(the model's embedding layers: {known})."
            )
    return plan


def _baselines(leaves, paths, plan, baseline, pad) -> list:
    out = []
    tokens = {i: m for _, m, i in plan}
    given = dict(batch.named_leaves(baseline)) if isinstance(baseline, (Mapping, tuple, list)) else None
    for i, (t, p) in enumerate(zip(leaves, paths)):
        value = given.get(p) if given is not None else None
        if t.is_floating_point():
            b = baseline if given is None else (0.0 if value is None else value)
            out.append(torch.broadcast_to(torch.as_tensor(np.asarray(b, dtype=np.float32), device=t.device), t.shape))
        elif i in tokens:
            if value is None:
                value = pad if pad is not None else getattr(tokens[i], "padding_idx", None) or 0
            out.append(torch.full_like(t, int(value)))
        else:
            out.append(t)  # held at its value: a mask, an input no embedding reads
    return out


def attribute_inputs(run, x, *, method, baseline, target, steps, progress, layer=None, pad=None, token_path=None):
    """Attributions of every input tensor of ``x``'s rows, as ``x``'s structure of numpy arrays."""
    cattr = _captum()
    feats = run._features(x)
    named = batch.named_leaves(feats)
    paths, leaves = [p for p, _ in named], [t for _, t in named]
    floating = [i for i, t in enumerate(leaves) if t.is_floating_point()]
    forward = _Forward(run, feats, floating)
    model, n = run.model, batch.rows(feats)
    was_training = model.training
    model.eval()
    patched = []
    try:
        plan = _plan(run, layer, forward, [t[:2] for t in leaves], paths, token_path)
        sample = [t[:8] for t in leaves]
        with torch.no_grad():
            before = forward(*sample)
        hooked = []
        for _, module, i in plan:
            if isinstance(module, torch.nn.EmbeddingBag):
                per = _PerToken(module)
                module.forward = per.forward  # an instance attribute: removed in the finally below
                patched.append(module)
                hooked.append((per.tokens, i))
            else:
                hooked.append((module, i))
        if patched:
            with torch.no_grad():
                after = forward(*sample)
            if not torch.allclose(before, after, rtol=1e-4, atol=1e-5):
                raise ExplainError(
                    "the nn.EmbeddingBag read token by token does not give the model's outputs (a bag mode or an "
                    "option attributions do not cover); name another layer with layer=."
                )
        layers = [forward.idents[i] for i in floating] + [m for m, _ in hooked]
        owners = floating + [i for _, i in hooked]
        if not layers:
            raise ExplainError("these inputs have nothing to attribute to: no floating input and no embedding layer.")
        bases = _baselines(leaves, paths, plan, baseline, pad)
        line = ticker(progress, f"{method.replace('_', ' ')} of {n} rows", -(-n // CHUNK))
        parts = []
        try:
            for lo in range(0, n, CHUNK):
                xb = [t[lo : lo + CHUNK] for t in leaves]
                bb = [b[lo : lo + CHUNK] for b in bases]
                with torch.no_grad():
                    tb = _targets(run, forward(*xb), target)
                parts.append(_one_chunk(cattr, forward, layers, xb, bb, tb, steps, method))
                line(len(parts))
        finally:
            line.done()
    finally:
        for module in patched:
            del module.forward
        model.train(was_training)
    result = [np.zeros(tuple(t.shape), dtype=np.float32) for t in leaves]
    for k, owner in enumerate(owners):
        a = torch.cat([p[k] for p in parts]).numpy()
        while a.ndim > result[owner].ndim:
            a = a.sum(-1)  # an embedding's vector: one number a token
        result[owner] = result[owner] + a.reshape(result[owner].shape)
    return rebuild(feats, result) if batch.is_structure(feats) else result[0]


def _one_chunk(cattr, forward, layers, xb, bb, tb, steps, method) -> list:
    if method == "saliency":
        grads = cattr.LayerGradientXActivation(forward, layers, multiply_by_inputs=False).attribute(
            tuple(xb), target=tb
        )
        return [g.detach().abs().cpu() for g in _listed(grads)]
    with warnings.catch_warnings():  # "multiple layers": ours are independent (an identity a leaf, embeddings)
        warnings.simplefilter("ignore", UserWarning)
        lig = cattr.LayerIntegratedGradients(forward, layers)

    def run(x, b, t, k, how):
        a, d = lig.attribute(
            tuple(x), baselines=tuple(b), target=t, n_steps=k, method=how,
            internal_batch_size=max(k, 512), return_convergence_delta=True,
        )  # fmt: skip
        return [g.detach() for g in _listed(a)], d.detach()

    attrs, delta = run(xb, bb, tb, steps, "gausslegendre")
    with torch.no_grad():
        gap = (forward(*xb).gather(1, tb[:, None]) - forward(*bb).gather(1, tb[:, None]))[:, 0]
    for k in range(1, REFINE + 1):
        bad = delta.abs() > COMPLETENESS * gap.abs() + 1e-6
        if not bad.any():
            break
        # rows off by more than 5 % of their gap: again with more steps (the trapezoid rule, as attribution.py)
        again, d = run([t[bad] for t in xb], [b[bad] for b in bb], tb[bad], steps * 2**k, "riemann_trapezoid")
        for a, g in zip(attrs, again):
            a[bad] = g
        delta[bad] = d
    return [a.cpu() for a in attrs]


def _listed(a) -> list:
    """captum's per-layer result (a list, each a tensor or a 1-tuple) as a flat list of tensors."""
    out = []
    for g in a if isinstance(a, list) else [a]:
        out += list(g) if isinstance(g, tuple) else [g]
    return out
