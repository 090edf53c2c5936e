"""Run files (``.nbtrain``): a zip archive that loading never executes code from.

- ``meta.json``        format, version, config, history, label classes (plain JSON)
- ``weights.pt``       the model's state_dict, read back with ``torch.load(weights_only=True)``
- ``preprocess.skops`` the fitted scikit-learn transformer (see :mod:`.trust`)
- a transformers model instead has ``weights.safetensors`` and ``hf_model.json`` (see :mod:`.hfsave`)
- ``tokenizer/``       the run's tokenizer as its own files, where it has one (see :mod:`.tokfiles`)
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterable

import numpy as np
import torch

from ..errors import RunFileError, first_line
from . import hfsave
from .atomic import write_file
from .hfsave import hf_members, is_peft_model, is_transformers_model, peft_members
from .safe_load import check_file, check_history, check_state, torch_load, version_error
from .tokfiles import PREFIX, read_tokenizer, tokenizer_members
from .trust import dump_transformer, load_transformer

FORMAT, VERSION = "nbtrain-run", 1
_MAX_META = 64 * 2**20  # bytes of meta.json we are willing to parse


# ------------------------------------------------------------------------ label classes


def _classes_to_json(classes) -> dict | None:
    if classes is None:
        return None
    if classes.dtype.kind == "S":  # bytes labels: JSON has no bytes, keep them as latin-1 text
        return {"dtype": classes.dtype.str, "values": [v.decode("latin-1") for v in classes.tolist()]}
    return {"dtype": classes.dtype.str if classes.dtype.kind != "O" else "object", "values": classes.tolist()}


def _classes_from_json(obj, where: str) -> np.ndarray | None:
    if obj is None:
        return None
    bad = RunFileError(f"{where}: meta.json has malformed label classes.")
    if not isinstance(obj, dict) or not isinstance(obj.get("values"), list) or not isinstance(obj.get("dtype"), str):
        raise bad
    values = obj["values"]
    if not all(isinstance(v, (str, int, float, bool)) for v in values):
        raise bad
    if obj["dtype"] == "object":
        return np.asarray(values, dtype=object)
    try:
        dtype = np.dtype(obj["dtype"])
    except (TypeError, ValueError):
        raise bad from None
    if dtype.kind not in "biufUSMm":
        raise bad
    try:
        if dtype.kind == "S":
            return np.asarray([v.encode("latin-1") for v in values], dtype=dtype)
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, AttributeError, UnicodeError, OverflowError):
        raise bad from None


# ------------------------------------------------------------------------ run files


def save_run(run, path) -> str:
    path = os.fspath(path)
    if not os.path.splitext(path)[1]:
        path += ".nbtrain"
    write_file(path, run_file_bytes(run), "run file")
    return path


def run_file_bytes(run, status: str | None = None) -> bytes:
    """The bytes of ``run``'s run file (``status`` overrides ``run.status``, e.g. for the run store)."""
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "name": run.name,
        "task": run.task,
        "status": status or run.status,
        "config": run.config,
        "history": run.history.rows,
        "classes": _classes_to_json(run.classes),
        "best_epoch": run.best_epoch,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.json", json.dumps(meta, default=_json_default))
        if is_transformers_model(run.model) or is_peft_model(run.model):  # safetensors plus config, no pickle
            members = peft_members(run.model) if is_peft_model(run.model) else hf_members(run.model)
            for member, blob in members.items():
                z.writestr(member, blob, compress_type=zipfile.ZIP_STORED)
        else:
            wb = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in run.model.state_dict().items()}, wb)
            # stored, not deflated: float weights shrink ~7% for ~0.75 s per 4 MB (the run store writes every run)
            z.writestr("weights.pt", wb.getvalue(), compress_type=zipfile.ZIP_STORED)
        if run.preprocess is not None:
            z.writestr("preprocess.skops", dump_transformer(run.preprocess))
        if getattr(run, "tokenizer", None) is not None:  # its own files (save_pretrained), no pickle
            for member, blob in tokenizer_members(run.tokenizer).items():
                z.writestr(member, blob)
    return buf.getvalue()


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (tuple, set)):
        return list(o)
    return str(o)


def _member(z: zipfile.ZipFile, name: str, where: str) -> bytes:
    try:
        return z.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        raise RunFileError(f"{where}: its {name} is damaged (failed to decompress or checksum mismatch).") from None


def _check_meta(meta: dict, where: str) -> None:
    def bad(what):
        return RunFileError(f"{where}: meta.json is malformed ({what}).")

    if meta.get("task") not in ("classification", "regression"):
        raise bad("task must be 'classification' or 'regression'")
    config = meta.get("config")
    if not isinstance(config, dict):
        raise bad("config is not a mapping")
    shape = config.get("input_shape")
    if not (
        isinstance(shape, list)
        and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**31 for d in shape)
    ):
        raise bad("config.input_shape must be a list of sizes")
    n_out = config.get("n_out")
    if not (isinstance(n_out, int) and not isinstance(n_out, bool) and 0 <= n_out < 2**31):
        raise bad("config.n_out must be a non-negative integer")
    for key in ("model", "model_spec"):
        if config.get(key) is not None and not isinstance(config[key], str):
            raise bad(f"config.{key} must be a string")
    if meta.get("name") is not None and not isinstance(meta["name"], str):
        raise bad("name must be a string")
    if meta.get("status") is not None and meta["status"] not in (
        "pending",
        "running",
        "completed",
        "stopped",
        "failed",
    ):
        raise bad("unknown status")
    be = meta.get("best_epoch")
    if be is not None and (not isinstance(be, int) or isinstance(be, bool)):
        raise bad("best_epoch must be an integer")
    check_history(meta.get("history", []), where)


def read_run_file(path, trusted: Iterable[str] = ()) -> dict:
    path = os.fspath(path)
    where = f"run file {path!r}"
    check_file(path, "run file")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError):
        with open(path, "rb") as f:
            head = f.read(4)
        if head.startswith(b"PK"):
            raise RunFileError(f"{where} is truncated or damaged (its zip directory is unreadable).") from None
        raise RunFileError(
            f"{where} is not an nbtrain run file (not a zip archive); save runs with run.save(path)."
        ) from None
    except OSError as exc:
        raise RunFileError(f"{where} cannot be read: {exc.strerror or exc}.") from None
    with z:
        names = set(z.namelist())
        lora = hfsave.ADAPTER in names and hfsave.PEFT in names
        hf = (hfsave.WEIGHTS in names or lora) and hfsave.MODEL in names
        if "meta.json" not in names or ("weights.pt" not in names and not hf):
            if any(n.endswith("data.pkl") for n in names):
                raise RunFileError(
                    f"{where} is a torch file (perhaps a checkpoint), not a saved run; resume a "
                    "checkpoint with nbtrain.train(..., checkpoint=path, resume=True)."
                )
            raise RunFileError(f"{where} is not an nbtrain run file (meta.json or weights.pt is missing).")
        if z.getinfo("meta.json").file_size > _MAX_META:
            raise RunFileError(f"{where}: meta.json is implausibly large; this is not an nbtrain run file.")
        try:
            meta = json.loads(_member(z, "meta.json", where))
        except (ValueError, RecursionError) as exc:
            raise RunFileError(f"{where}: meta.json is not valid JSON ({first_line(exc, 100)}).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise RunFileError(f"{where} is not an nbtrain run file (meta.json has the wrong format marker).")
        if meta.get("version") != VERSION:
            raise version_error(where, meta.get("version"), VERSION, "run-file")
        _check_meta(meta, where)
        peft_config = None
        if hf:
            part = hfsave.ADAPTER if lora else hfsave.WEIGHTS
            state = check_state(hfsave.read_weights(_member(z, part, where), where), where, part)
            hf_model = hfsave.read_model_meta(_member(z, hfsave.MODEL, where), where)
            if lora:
                peft_config = hfsave.read_peft_config(_member(z, hfsave.PEFT, where), where)
        else:
            state = check_state(
                torch_load(io.BytesIO(_member(z, "weights.pt", where)), where, "weights.pt"), where, "weights.pt"
            )
            hf_model = None
        pre = (
            load_transformer(_member(z, "preprocess.skops", where), trusted, where)
            if "preprocess.skops" in names
            else None
        )
        words = {n[len(PREFIX) :]: _member(z, n, where) for n in names if n.startswith(PREFIX) and n != PREFIX}
    tokenizer = read_tokenizer(words, where) if words else None
    meta.setdefault("history", [])
    meta["classes"] = _classes_from_json(meta.get("classes"), where)
    return {
        "meta": meta,
        "state": state,
        "preprocess": pre,
        "hf_model": hf_model,
        "peft": peft_config,
        "tokenizer": tokenizer,
    }
