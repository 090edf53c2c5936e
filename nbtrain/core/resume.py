"""Checkpoint writing and exact resume: model, optimizer, scheduler, precision, history and RNG.

A checkpoint is written after every finished epoch, atomically (see ``store.atomic_write``): a crash
or a full disk mid-write leaves the previous checkpoint loadable.  A write that fails raises
``CheckpointWriteError``; the loop ends the run as "failed" with the model and history in memory.
Resuming restores every random-number state and the early-stopping state (best weights, best
value, epochs without improvement), so on CPU the resumed run reaches bitwise the same weights as
an uninterrupted one.  Weights are always those of the original module (never torch.compile's
``_orig_mod.`` keys), so a run resumes whichever way ``compile`` is set.
"""

from __future__ import annotations

import os

import torch

from .early import clean_keys
from .errors import ConfigError, RunFileError, first_line
from .history import History
from .store import load_checkpoint, save_checkpoint

_IDENTITY = ("model", "n_out", "input_shape", "n_train", "loss", "optimizer", "batch_size")


def _cpu(state):
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: _cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu(v) for v in state)
    return state


def _path(path) -> str:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"checkpoint must be a file path, got {type(path).__name__} {path!r:.60}.")
    return os.fspath(path)


def make_checkpointer(path: str, job):
    path = _path(path)

    def write(run, epoch: int) -> None:
        payload = {
            "epoch": epoch,
            "model": _cpu(run.model.state_dict()),
            "optimizer": _cpu(job.optimizer.state_dict()),
            "scheduler": _cpu(job.scheduler.state_dict()) if job.scheduler is not None else None,
            "precision": _cpu(job.precision.state_dict()),
            "history": run.history.rows,
            "rng": {
                "torch": torch.get_rng_state(),
                "batches": run._generator.get_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            },
            "step": run.live.step,
            "best_epoch": run.best_epoch,
            "identity": {k: run.config.get(k) for k in _IDENTITY},
            "early": _cpu(job.early.state_dict()) if job.early is not None else None,
        }
        save_checkpoint(path, payload)

    return write


def resume(path: str, run, job) -> int:
    """Load a checkpoint into the prepared run/job.  Returns the next epoch to train."""
    ck = load_checkpoint(_path(path))
    ident = ck.get("identity", {})
    for k in _IDENTITY:
        if k in ident and ident[k] != run.config.get(k):
            raise RunFileError(
                f"checkpoint {path!r} was written by a different run ({k} was {ident[k]!r}, now "
                f"{run.config.get(k)!r}); resume with the same declarations, or start fresh without resume."
            )
    try:
        run.model.load_state_dict(clean_keys(ck["model"]))
        job.optimizer.load_state_dict(ck["optimizer"])
        if job.scheduler is not None and ck.get("scheduler") is not None:
            job.scheduler.load_state_dict(ck["scheduler"])
        job.precision.load_state_dict(ck.get("precision") or {})
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise RunFileError(f"checkpoint {path!r} does not fit this model: {first_line(exc)}.") from None
    try:
        torch.set_rng_state(ck["rng"]["torch"])
        run._generator.set_state(ck["rng"]["batches"])
        if ck["rng"].get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
    except (RuntimeError, TypeError, ValueError) as exc:
        raise RunFileError(f"checkpoint {path!r} has a damaged random-number state: {first_line(exc)}.") from None
    run.history = History(ck["history"])
    run.live.step = int(ck.get("step", 0))
    run.best_epoch = ck.get("best_epoch")
    early = ck.get("early")
    if early is not None and job.early is not None:
        try:
            job.early.load_state_dict(dict(early, epoch=early.get("epoch", run.best_epoch)), like=run.model)
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise RunFileError(
                f"checkpoint {path!r}: its best-epoch weights do not fit this model: {first_line(exc)}."
            ) from None
    return int(ck["epoch"]) + 1
