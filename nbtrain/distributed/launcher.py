"""Kernel side: prepare once, start the ranks, relay rank 0's numbers to the views, clean up.

Everything the user can get wrong is checked by ``core.prepare`` in the kernel before any process
starts; preprocessing is fitted there once, on the train split.  The ranks are forked (CPU, CUDA
not initialised in the kernel) or started as ``python -m nbtrain.worker RUNFILE`` (GPUs, or
``start="spawn"``).  They join a ``TCPStore`` the kernel hosts on a port the OS chose.  Whatever
happens (end, error, Stop, interrupt), every rank is ended and the store closed before returning.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import torch

from ..core.errors import ConfigError, DeviceError
from ..core.events import CallbackList
from .relay import RankError, Relay, RemoteLive  # noqa: F401  (RankError is public here too)

START_METHODS = ("auto", "fork", "spawn")


# ------------------------------------------------------------------------------------ settings


def check_processes(processes) -> int:
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ConfigError(f"processes must be a positive integer (the number of ranks), got {processes!r}.")
    return processes


def rank_settings(processes: int, device="auto", amp=None, backend=None, threads: int = 1) -> dict:
    """Where the ranks run: cpu (gloo) or one GPU per rank (nccl)."""
    if isinstance(device, torch.device):
        device = str(device)
    if device in (None, "auto"):
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    elif isinstance(device, str) and device.split(":")[0] in ("cpu", "cuda"):
        kind = device.split(":")[0]
    else:
        raise ConfigError(f"processes > 1 runs on device='cpu' or 'cuda' (one GPU per rank), got device={device!r}.")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(
                "device='cuda' with processes > 1 needs CUDA GPUs, and none is available; use device='cpu'."
            )
        if processes > count and backend in (None, "nccl"):
            raise DeviceError(
                f"processes={processes} needs one GPU per rank but this machine has {count}; "
                f"use processes={count}, or backend='gloo' to share GPUs."
            )
    backend = backend or ("nccl" if kind == "cuda" else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ConfigError(f"backend must be 'gloo' or 'nccl', got {backend!r}.")
    if backend == "nccl" and kind != "cuda":
        raise ConfigError("backend='nccl' needs device='cuda'; CPU ranks use backend='gloo'.")
    if amp not in (None, False, "", "fp32", "none") and str(amp).lower() not in ("bf16", "fp16"):
        raise ConfigError(f"amp must be 'bf16' or 'fp16' (or None for full precision), got {amp!r}.")
    if kind == "cuda" and str(amp).lower() == "bf16":
        from ..core.device import check_bf16

        for i in range(min(processes, torch.cuda.device_count())):
            check_bf16(torch.device("cuda", i))  # every rank's own GPU, here in the kernel
    return {"device": kind, "backend": backend, "amp": amp or None, "threads": threads, "processes": processes}


def prepare_for_ranks(args: dict, settings: dict, name: str):
    """``core.prepare`` in the kernel, on the CPU: checks, split, preprocessing fitted once."""
    from ..core.prepare import prepare

    for key in ("checkpoint", "resume", "compile"):
        if args.get(key):
            raise ConfigError(f"{key}= is not supported with processes > 1 yet; train in one process for it.")
    keep = {k: v for k, v in args.items() if k not in ("checkpoint", "resume", "compile", "device", "amp")}
    run, job = prepare(**keep, device="cpu", amp=None, name=name)
    world = settings["processes"]
    bs = job.batch_size
    run.config.update(
        device=f"{world} x {settings['device']} ({settings['backend']})",
        processes=world,
        backend=settings["backend"],
        amp=settings["amp"] or "fp32",
    )
    if bs < world:
        raise ConfigError(
            f"batch_size={bs} is smaller than processes={world}: each rank needs rows of every "
            f"batch; use batch_size >= {world}."
        )
    return run, job


def check_start(start, settings: dict) -> str:
    """The start method to use; ``"fork"`` with CUDA is refused here, before anything is launched."""
    start = start or "auto"
    if start not in START_METHODS:
        raise ConfigError(f"start must be one of {', '.join(START_METHODS)}, got {start!r}.")
    if start == "fork" and settings["device"] == "cuda":
        raise DeviceError(
            "start='fork' cannot run CUDA ranks (a forked process cannot initialise CUDA: \"Cannot re-initialize "
            "CUDA in forked subprocess\"); use start='spawn' (the default for GPUs) or torchrun."
        )
    if start == "fork" and torch.cuda.is_initialized():
        raise DeviceError(
            "CUDA is already initialised in this kernel, so ranks cannot be forked; "
            "use start='spawn' (the default for GPUs) or torchrun."
        )
    return default_start(settings) if start == "auto" else start


def default_start(settings: dict) -> str:
    if settings["device"] == "cuda" or torch.cuda.is_initialized() or "fork" not in _mp().get_all_start_methods():
        return "spawn"
    return "fork"


def _mp():
    import multiprocessing

    return multiprocessing


# ------------------------------------------------------------------------------------ ranks


def _kill_rank(pid: int) -> None:
    """SIGKILL a rank's process group (each rank runs in its own session), else the rank itself."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class _Forked:
    def __init__(self, proc):
        self.proc = proc

    @property
    def pid(self):
        return self.proc.pid

    def poll(self):
        return self.proc.exitcode

    def kill(self):
        if self.proc.exitcode is None:
            _kill_rank(self.proc.pid)

    def wait(self, timeout):
        self.proc.join(timeout)
        return self.proc.exitcode


class _Spawned:
    def __init__(self, popen):
        self.popen = popen

    @property
    def pid(self):
        return self.popen.pid

    def poll(self):
        return self.popen.poll()

    def kill(self):
        if self.popen.poll() is None:
            _kill_rank(self.popen.pid)

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def start_ranks(run, job, settings: dict, outdir: str, start: str, store_port: int, ranks: list) -> list:
    """Start every rank, appending each to ``ranks`` at once (so an interrupt mid-start leaks none)."""
    world = settings["processes"]
    if start == "fork":
        if torch.cuda.is_initialized():
            raise DeviceError(
                "CUDA is already initialised in this kernel, so ranks cannot be forked; "
                "use start='spawn' (the default for GPUs) or torchrun."
            )
        import importlib

        # DDP imports torch._dynamo lazily: ~1 s in every rank unless done once here, before the fork
        importlib.import_module("torch._dynamo")
        importlib.import_module("torch.nn.parallel")
        from .worker import fork_target

        ctx = _mp().get_context("fork")
        for r in range(world):
            p = ctx.Process(
                target=fork_target,
                args=(r, world, run, job, settings, outdir, store_port, os.getpid()),
                name=f"nbtrain-rank{r}",
                daemon=False,
            )
            p.start()
            ranks.append(_Forked(p))
        return ranks
    from .worker import write_runfile

    runfile = write_runfile(os.path.join(outdir, "run.nbtrain"), run, job, settings)
    for r in range(world):
        env = dict(
            os.environ,
            RANK=str(r),
            LOCAL_RANK=str(r),
            WORLD_SIZE=str(world),
            NBTRAIN_STORE_PORT=str(store_port),
            NBTRAIN_STORE_HOST="127.0.0.1",
            NBTRAIN_PARENT_PID=str(os.getpid()),
        )
        if settings["device"] == "cpu":
            env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
        log = open(os.path.join(outdir, f"rank-{r}.log"), "ab")
        try:
            p = subprocess.Popen(
                [sys.executable, "-m", "nbtrain.worker", runfile, "--out", outdir],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        ranks.append(_Spawned(p))
    return ranks


def run_ranks(
    run, job, cbs: CallbackList, settings: dict, start: str = "auto", grace: float = 10.0, keep_files: bool = False
):
    """Start the ranks, relay until the end, clean up.  Returns ``run``."""
    import torch.distributed as dist

    start = check_start(start, settings)
    outdir = tempfile.mkdtemp(prefix="nbtrain-ddp-")
    store = relay = None
    try:
        run.status = "running"
        if not isinstance(run.live, RemoteLive):
            run.live = RemoteLive()
        cbs.on_fit_start(run)
        # the OS picks the port; ranks join this store, so no "free port" race exists
        store = dist.TCPStore("127.0.0.1", 0, settings["processes"] + 1, is_master=True, wait_for_workers=False)
        relay = Relay(run, cbs, outdir, grace=grace)
        info = run._distributed = {"start": start, "store_port": store.port, "pids": [], "late_exit": False}
        start_ranks(run, job, settings, outdir, start, store.port, relay.ranks)
        info["pids"] = [r.pid for r in relay.ranks]
        interrupted = False
        try:
            relay.loop()
        except KeyboardInterrupt:
            interrupted = True
            reason = "interrupted (KeyboardInterrupt)"
            run.request_stop(reason)
            relay.send_stop(reason)
            try:
                relay.loop(deadline=time.monotonic() + grace)
            except KeyboardInterrupt:
                pass  # a second interrupt: end the ranks now
        relay.kill_all()
        info["late_exit"] = relay.late_exit
        relay.finish(interrupted)
        return run
    except BaseException:
        if run.status == "running":
            run.status = "failed"
        raise
    finally:
        if relay is not None:
            relay.kill_all()
        del store  # closes the listening socket
        if keep_files or (relay is not None and relay.failure is not None):
            run.config["rank_files"] = outdir
        else:
            shutil.rmtree(outdir, ignore_errors=True)


def train_processes(args: dict, *, processes, callbacks=(), name=None, start="auto", backend=None, views=None):
    """``nbtrain.train(..., processes=N)``: the arguments of ``train`` in ``args``.

    ``start``: "auto" (fork CPU ranks; spawn when GPUs are used or CUDA is initialised), "fork" or
    "spawn" (``python -m nbtrain.worker`` per rank).  ``backend``: "gloo" or "nccl" (default: nccl
    for GPUs, gloo for CPUs; gloo lets ranks share a GPU).
    """
    from ..core.run import runs

    processes = check_processes(processes)
    settings = rank_settings(processes, args.get("device", "auto"), args.get("amp"), backend)
    start = check_start(start, settings)
    run_name = name or runs.next_name()
    run, job = prepare_for_ranks(args, settings, run_name)
    run.config["checkpoint"] = None
    cbs = CallbackList(list(callbacks) + (views(run) if views is not None else []))
    runs.register(run)
    return run_ranks(run, job, cbs, settings, start=start)
