"""Run files and checkpoints.  Loading never executes code.

A run file (``.nbtrain``) is a zip archive:

- ``meta.json``      format, version, config, history, label classes (plain JSON)
- ``weights.pt``     the model's state_dict, read back with ``torch.load(weights_only=True)``
- ``preprocess.skops`` the fitted scikit-learn transformer, read with ``skops.io`` and a trusted-types list

A checkpoint is one ``torch.save`` file of tensors, numbers, strings, lists and dicts only, read back
with ``weights_only=True``.  Both are written to a temporary file and renamed into place, so a
crash mid-write leaves the previous file intact.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from typing import Iterable, Optional

import numpy as np
import torch

from .errors import RunFileError

FORMAT, VERSION = "nbtrain-run", 1
CKPT_FORMAT, CKPT_VERSION = "nbtrain-checkpoint", 1
TRUSTED_PREFIXES = ("sklearn.",)


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, then rename."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _classes_to_json(classes) -> Optional[dict]:
    if classes is None:
        return None
    return {"dtype": classes.dtype.str if classes.dtype.kind != "O" else "object", "values": classes.tolist()}


def _classes_from_json(obj) -> Optional[np.ndarray]:
    if obj is None:
        return None
    return np.asarray(obj["values"], dtype=object if obj["dtype"] == "object" else np.dtype(obj["dtype"]))


def save_run(run, path) -> str:
    path = os.fspath(path)
    if not os.path.splitext(path)[1]:
        path += ".nbtrain"
    meta = {"format": FORMAT, "version": VERSION, "name": run.name, "task": run.task, "status": run.status,
            "config": run.config, "history": run.history.rows, "classes": _classes_to_json(run.classes),
            "best_epoch": run.best_epoch}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.json", json.dumps(meta, default=_json_default))
        wb = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in run.model.state_dict().items()}, wb)
        z.writestr("weights.pt", wb.getvalue())
        if run.preprocess is not None:
            z.writestr("preprocess.skops", _dump_transformer(run.preprocess))
    atomic_write(path, buf.getvalue())
    return path


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (tuple, set)):
        return list(o)
    return str(o)


def _dump_transformer(transformer) -> bytes:
    import skops.io as sio
    try:
        return sio.dumps(transformer)
    except Exception as exc:  # skops refuses what it cannot store as data (lambdas, custom classes)
        raise RunFileError(
            f"the preprocessing {type(transformer).__name__} cannot be saved as data ({exc}); "
            "use scikit-learn transformers or nbtrain presets."
        ) from None


def load_transformer(blob: bytes, trusted: Iterable[str] = (), where: str = "run file"):
    import skops.io as sio
    try:
        untrusted = sio.get_untrusted_types(data=blob)
    except Exception as exc:
        raise RunFileError(f"{where}: the preprocessing part is corrupted ({type(exc).__name__}).") from None
    trusted = set(trusted)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in trusted]
    if refused:
        raise RunFileError(
            f"{where}: its preprocessing needs untrusted types {', '.join(sorted(refused))}; "
            "if you trust this file, pass trusted=[...] with those names to nbtrain.load."
        )
    try:
        return sio.loads(blob, trusted=list(untrusted))
    except Exception as exc:
        raise RunFileError(f"{where}: the preprocessing could not be loaded ({type(exc).__name__}: {exc}).") from None


def read_run_file(path, trusted: Iterable[str] = ()) -> dict:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise RunFileError(f"no run file at {path!r}.")
    if os.path.getsize(path) == 0:
        raise RunFileError(f"{path!r} is empty (0 bytes): it is not a saved run.")
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise RunFileError(f"{path!r} is not an nbtrain run file (not a zip archive, or truncated).") from None
    with z:
        names = set(z.namelist())
        if "meta.json" not in names or "weights.pt" not in names:
            raise RunFileError(f"{path!r} is not an nbtrain run file (meta.json or weights.pt is missing).")
        try:
            meta = json.loads(z.read("meta.json"))
        except (ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise RunFileError(f"{path!r}: meta.json is corrupted ({exc}).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise RunFileError(f"{path!r} is not an nbtrain run file (wrong format marker).")
        if meta.get("version") != VERSION:
            raise RunFileError(f"{path!r} has run-file version {meta.get('version')!r}; this nbtrain reads version {VERSION}.")
        try:
            state = torch.load(io.BytesIO(z.read("weights.pt")), weights_only=True, map_location="cpu")
        except Exception as exc:
            raise RunFileError(f"{path!r}: the weights could not be read safely ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:200]}).") from None
        pre = load_transformer(z.read("preprocess.skops"), trusted, repr(path)) if "preprocess.skops" in names else None
    meta["classes"] = _classes_from_json(meta.get("classes"))
    return {"meta": meta, "state": state, "preprocess": pre}


# ------------------------------------------------------------------------ checkpoints

def save_checkpoint(path: str, payload: dict) -> None:
    payload = dict(payload, format=CKPT_FORMAT, version=CKPT_VERSION)
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write(path, buf.getvalue())


def load_checkpoint(path: str) -> dict:
    if not os.path.exists(path):
        raise RunFileError(f"no checkpoint at {path!r}; train once with checkpoint={path!r} before resuming.")
    if os.path.getsize(path) == 0:
        raise RunFileError(f"checkpoint {path!r} is empty (0 bytes).")
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise RunFileError(f"checkpoint {path!r} cannot be read safely: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200]}.") from None
    if not isinstance(payload, dict) or payload.get("format") != CKPT_FORMAT:
        raise RunFileError(f"{path!r} is not an nbtrain checkpoint (wrong format marker).")
    if payload.get("version") != CKPT_VERSION:
        raise RunFileError(f"checkpoint {path!r} has version {payload.get('version')!r}; this nbtrain reads {CKPT_VERSION}.")
    return payload
