"""Warm the first run of a process: import what the first ``train`` needs in a background thread.

The first ``nbtrain.train`` of a process spends seconds importing: scikit-learn's splitting (~2 s on
a small machine) and torch's optimizer machinery (the first ``torch.optim`` optimizer imports
``torch._dynamo``, ~2.3 s).  ``%load_ext nbtrain`` starts :func:`start` once the cell that loaded it
has finished, so these imports run while the user types the next cell.

The warm-up never runs beside other code that may import the same packages: two threads importing
one package can deadlock on Python's per-module import locks when that package imports itself in a
circle (``_DeadlockError``), and forking a process (CPU ranks) while a thread holds an import lock can
hang the child.  So the next cell waits for it (the magics' ``pre_run_cell``), and so does every
``nbtrain.train`` (:func:`wait`), e.g. one started by a widget click while the kernel is idle.

>>> start(); wait()          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
import threading

_thread: threading.Thread | None = None
_lock = threading.Lock()
NEEDED = ("sklearn.model_selection", "sklearn.pipeline", "torch._dynamo")


def _warm() -> None:
    try:
        import torch

        importlib.import_module("sklearn.model_selection")  # the train/val/test split
        importlib.import_module("sklearn.pipeline")  # preprocessing presets

        torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # imports torch._dynamo and the optimizer code
    except Exception:  # the first run imports them again and reports a real problem itself
        pass


def start() -> bool:
    """Start the warm-up once per process (not when everything is imported already).  True if started."""
    global _thread
    with _lock:
        if _thread is not None or all(m in sys.modules for m in NEEDED):
            return False
        _thread = threading.Thread(target=_warm, name="nbtrain-warmup", daemon=True)
        _thread.start()
        return True


def wait(timeout: float = 120.0) -> None:
    """Block until the warm-up has finished (at once when none is running)."""
    thread = _thread
    if thread is not None and thread.is_alive() and thread is not threading.current_thread():
        thread.join(timeout)
