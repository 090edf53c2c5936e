"""Checkpoints: one ``torch.save`` file of tensors, numbers, strings, lists and dicts only, written
atomically after every epoch and read back with ``weights_only=True``."""

from __future__ import annotations

import io
import os

import torch

from ..errors import RunFileError
from .atomic import write_file
from .safe_load import check_file, check_history, check_state, torch_load, version_error

CKPT_FORMAT, CKPT_VERSION = "nbtrain-checkpoint", 1


class CheckpointWriteError(RunFileError):
    """A checkpoint could not be written (disk full, no permission); the previous one is intact."""


def save_checkpoint(path: str, payload: dict) -> None:
    """Write a checkpoint atomically; a failure raises :class:`CheckpointWriteError` and changes nothing."""
    payload = dict(payload, format=CKPT_FORMAT, version=CKPT_VERSION)
    buf = io.BytesIO()
    torch.save(payload, buf)
    write_file(os.fspath(path), buf.getvalue(), "checkpoint", CheckpointWriteError)


def _check_checkpoint(ck: dict, where: str) -> None:
    def bad(what):
        return RunFileError(f"{where} is malformed ({what}).")

    ep = ck.get("epoch")
    if not isinstance(ep, int) or isinstance(ep, bool) or ep < 0:
        raise bad("epoch must be a non-negative integer")
    check_state(ck.get("model"), where, "its model part")
    if not isinstance(ck.get("optimizer"), dict):
        raise bad("optimizer state missing")
    if ck.get("scheduler") is not None and not isinstance(ck["scheduler"], dict):
        raise bad("scheduler state is not a mapping")
    if ck.get("precision") is not None and not isinstance(ck["precision"], dict):
        raise bad("precision state is not a mapping")
    check_history(ck.get("history"), where)
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
            check_state(early["state"], where, "its best-epoch weights")
    step = ck.get("step", 0)
    if not isinstance(step, int) or isinstance(step, bool):
        raise bad("step must be an integer")


def load_checkpoint(path: str) -> dict:
    path = os.fspath(path)
    where = f"checkpoint {path!r}"
    check_file(path, "checkpoint")
    payload = torch_load(path, where, "the file")
    if not isinstance(payload, dict) or payload.get("format") != CKPT_FORMAT:
        raise RunFileError(
            f"{path!r} is not an nbtrain checkpoint (wrong format marker); "
            "pass the file written by train(..., checkpoint=PATH)."
        )
    if payload.get("version") != CKPT_VERSION:
        raise version_error(where, payload.get("version"), CKPT_VERSION, "checkpoint")
    _check_checkpoint(payload, where)
    return payload
