"""Export a declared run to a file for ``torchrun`` nodes, and attach the notebook to its result.

    path = nbtrain.distributed.export("run.nbtrain", data, model="mlp(64)", epochs=5)
    # on every node:  torchrun --nnodes=2 --nproc-per-node=1 --rdzv-backend=c10d \\
    #                     --rdzv-endpoint=HOST:PORT -m nbtrain.worker run.nbtrain
    run = nbtrain.attach(path)                 # rank 0's live numbers, then its history and weights

The file holds the prepared run (data splits, fitted preprocessing, model, loss, optimizer) as a
pickle made with cloudpickle, so models and functions defined in the notebook travel by value.
Loading a run file executes code from it: only run files you made.
"""

from __future__ import annotations

import os
import time

from ..core.events import Callback, CallbackList
from ..core.options import PREPARE, unknown
from .launcher import check_processes, prepare_for_ranks, rank_settings
from .relay import Relay
from .worker import read_runfile, write_runfile


def export(
    path, data=None, model=None, loss=None, optimizer=None, preprocess=None, *,
    processes=None, device="auto", amp=None, name=None, backend=None, **options,
) -> str:  # fmt: skip
    """Check and prepare a run exactly as ``nbtrain.train`` would, and write it to ``path`` for
    ``python -m nbtrain.worker``.  ``options``: the keywords of ``train`` that ``core.prepare`` takes
    (``epochs``, ``batch_size``, ``lr``, ``val_data``, ``clip``, ...: ``core/options.py``).  ``processes``
    (the total number of ranks, if known) only checks that ``batch_size`` covers every rank.  Returns the
    path."""
    for key in options:
        if key not in PREPARE:
            raise unknown(key, "export", PREPARE)
    args = dict(data=data, model=model, loss=loss, optimizer=optimizer, preprocess=preprocess, **options)
    world = check_processes(processes) if processes is not None else 1
    settings = rank_settings(world, device, amp, backend)
    run, job = prepare_for_ranks(args, settings, name or os.path.splitext(os.path.basename(os.fspath(path)))[0])
    run.config["device"] = f"{settings['device']} ({settings['backend']}, torchrun)"
    return write_runfile(path, run, job, settings)


def attach(
    path,
    *,
    out=None,
    views=None,
    callbacks=(),
    timeout: float | None = None,
    watch=(),
    name=None,
    register: bool = True,
):
    """Follow a run started with ``torchrun ... -m nbtrain.worker path`` and return its :class:`Run`.

    Rank 0's numbers reach the views as they come; the Run ends with rank 0's history, weights and
    status.  ``watch`` takes ``subprocess.Popen`` objects (e.g. the local torchrun agent) whose exit
    without a result ends the wait.  A rank's error raises ``RankError`` with its message.  Stop or
    interrupt asks rank 0 to stop at the next step (through the file system).  ``views``: a function
    ``run -> [views]`` (``nbtrain.attach`` hands in the notebook or console views for ``display=``).
    """
    from ..core.run import runs

    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    payload = read_runfile(os.fspath(path))
    run = payload["run"]
    if name:
        run.name = name
    outdir = out or os.fspath(path) + ".out"
    os.makedirs(outdir, exist_ok=True)
    cbs = CallbackList(list(callbacks) + (views(run) if views is not None else []))
    if register:
        runs.register(run)
    relay = Relay(run, cbs, outdir, ranks=[_Watched(p) for p in watch])
    relay.exit_grace = 0.0  # the result is in once rank 0 says so: agents are not ours to wait for
    run.status = "running"
    cbs.on_fit_start(run)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        done = relay.loop(deadline)
    except KeyboardInterrupt:
        run.request_stop("interrupted (KeyboardInterrupt)")
        relay.send_stop(run.stop_reason)
        done = relay.loop(time.monotonic() + relay.grace)
    if not done and relay.end is None and relay.failure is None:
        relay.failure = {
            "rank": 0,
            "type": "TimeoutError",
            "traceback": "",
            "message": f"no result from rank 0 in {outdir!r} within {timeout} s",
        }
    relay.finish()
    return run


class _Watched:
    def __init__(self, popen):
        self.popen = popen

    def poll(self):
        return self.popen.poll()

    def kill(self):
        pass  # not ours to end

    def wait(self, timeout):
        return self.popen.poll()
