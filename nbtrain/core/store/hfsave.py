"""transformers models in run files: weights as safetensors, the model's config as JSON, no pickle.

A run whose model is a transformers ``PreTrainedModel`` is saved with ``weights.safetensors`` (instead
of ``weights.pt``) and ``hf_model.json``: the model's class name, its config class name and
``config.to_dict()``.  Loading rebuilds the model as ``ModelClass(ConfigClass.from_dict(config))``;
both are looked up by name among the classes the ``transformers`` package exports (an allow-list by
name: any other name is refused), ``auto_map`` (remote code) is left out of the config, and nothing in
the file is executed or unpickled.

>>> members = hf_members(run.model)        # {"weights.safetensors": b"...", "hf_model.json": b"..."}  # doctest: +SKIP
"""

from __future__ import annotations

import json

import torch

from ..errors import RunFileError, first_line

WEIGHTS, MODEL = "weights.safetensors", "hf_model.json"


def is_transformers_model(model) -> bool:
    """A transformers ``PreTrainedModel`` (told without importing transformers)."""
    return any(
        c.__module__.startswith("transformers.") and c.__name__ == "PreTrainedModel" for c in type(model).__mro__
    )


def hf_members(model) -> dict:
    """The zip members of a transformers model: safetensors weights and its config."""
    from safetensors.torch import save

    # clones: tied weights (an LM head sharing the embedding) are stored twice, which safetensors allows
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    config = model.config
    meta = {"class": type(model).__name__, "config_class": type(config).__name__, "config": config.to_dict()}
    return {WEIGHTS: save(tensors), MODEL: json.dumps(meta, default=str).encode()}


def read_weights(blob: bytes, where: str) -> dict:
    """A safetensors blob as a state dict (safetensors holds tensors only: nothing to execute)."""
    try:
        from safetensors.torch import load
    except ImportError:
        raise RunFileError(f"{where} holds safetensors weights; pip install safetensors (or 'nbtrain[hf]').") from None
    try:
        return load(blob)
    except Exception as exc:
        raise RunFileError(f"{where}: {WEIGHTS} is damaged ({first_line(exc, 100)}).") from None


def read_model_meta(blob: bytes, where: str) -> dict:
    try:
        meta = json.loads(blob)
    except (ValueError, RecursionError):
        raise RunFileError(f"{where}: {MODEL} is not valid JSON.") from None
    ok = (
        isinstance(meta, dict)
        and isinstance(meta.get("class"), str)
        and isinstance(meta.get("config_class"), str)
        and isinstance(meta.get("config"), dict)
    )
    if not ok:
        raise RunFileError(f"{where}: {MODEL} is malformed (class, config_class and config are needed).")
    return meta


def _exported(name: str, where: str):
    """``transformers.<name>``, a class that transformers exports; other names are refused."""
    try:
        import transformers
    except ImportError:
        raise RunFileError(
            f"{where} holds a transformers model ({name}); pip install transformers (or 'nbtrain[hf]')."
        ) from None
    if not name.isidentifier():
        raise RunFileError(f"{where}: {name!r} is not a class name of transformers; refused.")
    obj = getattr(transformers, name, None)
    if not isinstance(obj, type):
        raise RunFileError(f"{where}: transformers exports no class {name!r}; refused (another transformers version?).")
    return obj


def rebuild(meta: dict, where: str) -> torch.nn.Module:
    """The model of ``hf_model.json``: ``ModelClass(ConfigClass.from_dict(config))``, with fresh weights."""
    import transformers

    model_cls = _exported(meta["class"], where)
    config_cls = _exported(meta["config_class"], where)
    if not (
        issubclass(model_cls, transformers.PreTrainedModel) and issubclass(config_cls, transformers.PretrainedConfig)
    ):
        raise RunFileError(
            f"{where}: {meta['class']} / {meta['config_class']} are not a transformers model and config."
        )
    config = {k: v for k, v in meta["config"].items() if k not in ("auto_map", "trust_remote_code")}
    try:
        return model_cls(config_cls.from_dict(config))
    except Exception as exc:
        raise RunFileError(
            f"{where}: the saved config does not build a {meta['class']} ({first_line(exc, 100)})."
        ) from None
