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


# ------------------------------------------------------------------------ LoRA (peft): adapters only

ADAPTER, PEFT = "adapter.safetensors", "peft_config.json"


def is_peft_model(model) -> bool:
    return any(c.__module__.startswith("peft.") and c.__name__ == "PeftModel" for c in type(model).__mro__)


def peft_members(model) -> dict:
    """The adapters (a small safetensors file), their config, and the base model's class and config."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in get_peft_model_state_dict(model).items()}
    base = model.get_base_model()
    meta = {"class": type(base).__name__, "config_class": type(base.config).__name__, "config": base.config.to_dict()}
    config = model.peft_config[model.active_adapter].to_dict()
    return {
        ADAPTER: save(tensors),
        PEFT: json.dumps(config, default=lambda o: sorted(o) if isinstance(o, set) else str(o)).encode(),
        MODEL: json.dumps(meta, default=str).encode(),
    }


def read_peft_config(blob: bytes, where: str) -> dict:
    try:
        config = json.loads(blob)
    except (ValueError, RecursionError):
        config = None
    if not isinstance(config, dict) or not isinstance(config.get("peft_type"), str):
        raise RunFileError(f"{where}: {PEFT} is malformed (a peft config with its peft_type is needed).")
    return config


def attach_adapters(base, config: dict, adapters: dict, where: str):
    """The base model given with ``model=``, wrapped by peft with the saved adapters put back."""
    try:
        from peft import PeftConfig, get_peft_model, set_peft_model_state_dict
    except ImportError:
        raise RunFileError(f"{where} holds LoRA adapters; pip install peft (or 'nbtrain[hf]').") from None
    if base is None:
        raise RunFileError(
            f"{where} holds LoRA adapters only: pass the base model they were trained on, "
            "nbtrain.load(path, model=base_model)."
        )
    try:
        model = get_peft_model(base, PeftConfig.from_peft_type(**config))
        set_peft_model_state_dict(model, adapters)
    except Exception as exc:
        raise RunFileError(f"{where}: the adapters do not fit the model given ({first_line(exc, 100)}).") from None
    return model
