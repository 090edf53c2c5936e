"""Checks shared by run files and checkpoints: the file exists and is readable, torch payloads load
with ``weights_only=True``, state dicts are dicts of named tensors, histories are rows of plain values.
Every problem is a :class:`RunFileError` naming the file and what is wrong with it."""

from __future__ import annotations

import io
import os
import warnings

import torch

from ..errors import RunFileError, first_line


def check_file(path: str, kind: str) -> None:
    if not os.path.exists(path):
        raise RunFileError(f"no {kind} at {path!r}.")
    if not os.path.isfile(path):
        raise RunFileError(f"{path!r} is a folder, not a {kind}.")
    if os.path.getsize(path) == 0:
        raise RunFileError(f"{kind} {path!r} is empty (0 bytes): it was never written completely.")
    if not os.access(path, os.R_OK):
        raise RunFileError(f"{kind} {path!r} is not readable (permission denied).")


def _head(source) -> bytes:
    if isinstance(source, io.BytesIO):
        return source.getvalue()[:2]
    with open(source, "rb") as f:
        return f.read(2)


def torch_load(source, where: str, part: str):
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
            f"{where}: {part} is truncated or damaged ({type(exc).__name__}: {first_line(exc, 100)})."
        ) from None


def check_state(state, where: str, part: str) -> dict:
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise RunFileError(f"{where}: {part} is not a model state_dict (a dict of named tensors).")
    return state


def _is_plain(v) -> bool:
    # numbers in practice; a callback may also have put a string or None into its epoch's row
    return v is None or isinstance(v, (int, float, str))


def check_history(rows, where: str) -> list:
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and all(isinstance(k, str) and _is_plain(v) for k, v in r.items()) for r in rows
    ):
        raise RunFileError(f"{where}: its history is malformed (expected a list of rows of plain values).")
    return rows


def version_error(where: str, found, expected: int, kind: str) -> RunFileError:
    if isinstance(found, int) and not isinstance(found, bool) and found > expected:
        hint = "it was saved by a newer nbtrain; upgrade nbtrain to read it."
    else:
        hint = f"this nbtrain reads version {expected}."
    return RunFileError(f"{where} has {kind} version {found!r}; {hint}")
