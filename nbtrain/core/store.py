"""Run files and checkpoints.  Loading never executes code.

A run file (``.nbtrain``) is a zip archive:

- ``meta.json``      format, version, config, history, label classes (plain JSON)
- ``weights.pt``     the model's state_dict, read back with ``torch.load(weights_only=True)``
- ``preprocess.skops`` the fitted scikit-learn transformer, read with ``skops.io``: only skops' own
  trusted types (scikit-learn estimators, numpy ufuncs, builtins) plus the exact names in
  ``SAFE_SKOPS_TYPES`` load without asking; anything else must be named in ``trusted=``.

A checkpoint is one ``torch.save`` file of tensors, numbers, strings, lists and dicts only, read back
with ``weights_only=True``.  Both are written to a temporary file in the same folder, flushed to
disk and renamed into place, so a crash or a full disk mid-write leaves the previous file intact.

Every problem reading a file is a :class:`RunFileError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable

import numpy as np
import torch

from .errors import RunFileError

FORMAT, VERSION = "nbtrain-run", 1
CKPT_FORMAT, CKPT_VERSION = "nbtrain-checkpoint", 1
# Exact type names trusted beyond skops' defaults.  Never a prefix: "sklearn." would also match
# aliases such as "sklearn.utils._testing.check_output" (that is subprocess.check_output).
SAFE_SKOPS_TYPES = frozenset({"numpy.dtype"})
_MAX_META = 64 * 2**20  # bytes of meta.json we are willing to parse


class CheckpointWriteError(RunFileError):
    """A checkpoint could not be written (disk full, no permission); the previous one is intact."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, then rename.

    Readers see either the old file or the new one, never a partial one; on any failure
    (including a full disk) the temp file is removed and the old file is untouched.
    """
    folder = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (best effort: not every platform can open a folder)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _write(path: str, data: bytes, what: str, error=RunFileError) -> None:
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise error(
            f"could not write {what} {path!r}: {exc.strerror or exc}; "
            f"the file that was there before (if any) is unchanged. Free disk space or choose another path."
        ) from None


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
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "name": run.name,
        "task": run.task,
        "status": run.status,
        "config": run.config,
        "history": run.history.rows,
        "classes": _classes_to_json(run.classes),
        "best_epoch": run.best_epoch,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.json", json.dumps(meta, default=_json_default))
        wb = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in run.model.state_dict().items()}, wb)
        z.writestr("weights.pt", wb.getvalue())
        if run.preprocess is not None:
            z.writestr("preprocess.skops", _dump_transformer(run.preprocess))
    _write(path, buf.getvalue(), "run file")
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
            f"the preprocessing {type(transformer).__name__} cannot be saved as data ({_first_line(exc)}); "
            "use scikit-learn transformers or nbtrain presets."
        ) from None


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


def load_transformer(blob: bytes, trusted: Iterable[str] = (), where: str = "run file"):
    """Load a skops blob.  Types outside skops' defaults, ``SAFE_SKOPS_TYPES`` and ``trusted`` are refused."""
    import skops.io as sio

    if isinstance(trusted, str):
        trusted = [trusted]
    try:
        untrusted = sio.get_untrusted_types(data=blob)
    except Exception:
        raise RunFileError(f"{where}: preprocess.skops is damaged or not a skops file.") from None
    allowed = SAFE_SKOPS_TYPES | set(trusted)
    refused = sorted(t for t in untrusted if t not in allowed)
    if refused:
        names = ", ".join(refused)
        if len(names) > 200:
            names = names[:200] + "..."
        raise RunFileError(
            f"{where}: its preprocessing (preprocess.skops) needs untrusted types {names}; "
            "if you trust this file, pass trusted=[...] with those names to nbtrain.load."
        )
    try:
        return sio.loads(blob, trusted=list(untrusted))
    except Exception as exc:
        raise RunFileError(
            f"{where}: preprocess.skops could not be loaded ({type(exc).__name__}: {_first_line(exc)})."
        ) from None


def _check_file(path: str, kind: str) -> None:
    if not os.path.exists(path):
        raise RunFileError(f"no {kind} at {path!r}.")
    if not os.path.isfile(path):
        raise RunFileError(f"{path!r} is a folder, not a {kind}.")
    if os.path.getsize(path) == 0:
        raise RunFileError(f"{kind} {path!r} is empty (0 bytes): it was never written completely.")
    if not os.access(path, os.R_OK):
        raise RunFileError(f"{kind} {path!r} is not readable (permission denied).")


def _member(z: zipfile.ZipFile, name: str, where: str) -> bytes:
    try:
        return z.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        raise RunFileError(f"{where}: its {name} is damaged (failed to decompress or checksum mismatch).") from None


def _head(source) -> bytes:
    if isinstance(source, io.BytesIO):
        return source.getvalue()[:2]
    with open(source, "rb") as f:
        return f.read(2)


def _torch_load(source, where: str, part: str):
    """``torch.load(weights_only=True)`` with a specific error for each way it can fail."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": we raise our own error
            return torch.load(source, weights_only=True, map_location="cpu")
    except Exception as exc:
        text, head = str(exc), _head(source)
        if not (head == b"PK" or head[:1] == b"\x80"):
            # neither a torch zip archive nor a binary pickle stream
            raise RunFileError(f"{where}: {part} is not a readable torch file (it starts with {head!r}).") from None
        if "weights_only" in text or "Unsupported global" in text or "Unsupported operand" in text:
            raise RunFileError(
                f"{where}: {part} holds objects other than tensors and plain data (loading them would run "
                "code); refused. Only open files from people you trust."
            ) from None
        raise RunFileError(
            f"{where}: {part} is truncated or damaged ({type(exc).__name__}: {_first_line(exc, 100)})."
        ) from None


def _check_state(state, where: str, part: str) -> dict:
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise RunFileError(f"{where}: {part} is not a model state_dict (a dict of named tensors).")
    return state


def _is_plain(v) -> bool:
    # numbers in practice; a callback may also have put a string or None into its epoch's row
    return v is None or isinstance(v, (int, float, str))


def _check_history(rows, where: str) -> list:
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and all(isinstance(k, str) and _is_plain(v) for k, v in r.items()) for r in rows
    ):
        raise RunFileError(f"{where}: its history is malformed (expected a list of rows of plain values).")
    return rows


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
    _check_history(meta.get("history", []), where)


def _version_error(where: str, found, expected: int, kind: str) -> RunFileError:
    if isinstance(found, int) and not isinstance(found, bool) and found > expected:
        hint = "it was saved by a newer nbtrain; upgrade nbtrain to read it."
    else:
        hint = f"this nbtrain reads version {expected}."
    return RunFileError(f"{where} has {kind} version {found!r}; {hint}")


def read_run_file(path, trusted: Iterable[str] = ()) -> dict:
    path = os.fspath(path)
    where = f"run file {path!r}"
    _check_file(path, "run file")
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
        if "meta.json" not in names or "weights.pt" not in names:
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
            raise RunFileError(f"{where}: meta.json is not valid JSON ({_first_line(exc, 100)}).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise RunFileError(f"{where} is not an nbtrain run file (meta.json has the wrong format marker).")
        if meta.get("version") != VERSION:
            raise _version_error(where, meta.get("version"), VERSION, "run-file")
        _check_meta(meta, where)
        state = _check_state(
            _torch_load(io.BytesIO(_member(z, "weights.pt", where)), where, "weights.pt"), where, "weights.pt"
        )
        pre = (
            load_transformer(_member(z, "preprocess.skops", where), trusted, where)
            if "preprocess.skops" in names
            else None
        )
    meta.setdefault("history", [])
    meta["classes"] = _classes_from_json(meta.get("classes"), where)
    return {"meta": meta, "state": state, "preprocess": pre}


# ------------------------------------------------------------------------ checkpoints


def save_checkpoint(path: str, payload: dict) -> None:
    """Write a checkpoint atomically; a failure raises :class:`CheckpointWriteError` and changes nothing."""
    payload = dict(payload, format=CKPT_FORMAT, version=CKPT_VERSION)
    buf = io.BytesIO()
    torch.save(payload, buf)
    _write(os.fspath(path), buf.getvalue(), "checkpoint", CheckpointWriteError)


def _check_checkpoint(ck: dict, where: str) -> None:
    def bad(what):
        return RunFileError(f"{where} is malformed ({what}).")

    ep = ck.get("epoch")
    if not isinstance(ep, int) or isinstance(ep, bool) or ep < 0:
        raise bad("epoch must be a non-negative integer")
    _check_state(ck.get("model"), where, "its model part")
    if not isinstance(ck.get("optimizer"), dict):
        raise bad("optimizer state missing")
    if ck.get("scheduler") is not None and not isinstance(ck["scheduler"], dict):
        raise bad("scheduler state is not a mapping")
    if ck.get("precision") is not None and not isinstance(ck["precision"], dict):
        raise bad("precision state is not a mapping")
    _check_history(ck.get("history"), where)
    rng = ck.get("rng")
    if not (
        isinstance(rng, dict)
        and isinstance(rng.get("torch"), torch.Tensor)
        and isinstance(rng.get("batches"), torch.Tensor)
        and rng["torch"].dtype == torch.uint8
        and rng["batches"].dtype == torch.uint8
    ):
        raise bad("random-number state missing")
    if not isinstance(ck.get("identity", {}), dict):
        raise bad("identity is not a mapping")
    early = ck.get("early")
    if early is not None:
        if not (
            isinstance(early, dict)
            and isinstance(early.get("value"), (int, float))
            and isinstance(early.get("bad"), int)
        ):
            raise bad("early-stopping state is malformed")
        if early.get("state") is not None:
            _check_state(early["state"], where, "its best-epoch weights")
    step = ck.get("step", 0)
    if not isinstance(step, int) or isinstance(step, bool):
        raise bad("step must be an integer")


def load_checkpoint(path: str) -> dict:
    path = os.fspath(path)
    where = f"checkpoint {path!r}"
    _check_file(path, "checkpoint")
    payload = _torch_load(path, where, "the file")
    if not isinstance(payload, dict) or payload.get("format") != CKPT_FORMAT:
        raise RunFileError(
            f"{path!r} is not an nbtrain checkpoint (wrong format marker); "
            "pass the file written by train(..., checkpoint=PATH)."
        )
    if payload.get("version") != CKPT_VERSION:
        raise _version_error(where, payload.get("version"), CKPT_VERSION, "checkpoint")
    _check_checkpoint(payload, where)
    return payload
