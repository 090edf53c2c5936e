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
from typing import Optional

import torch

from ..core.errors import ConfigError, DeviceError, NbtrainError
from ..core.events import CallbackList
from ..core.loop import Live
from .channel import Reader

START_METHODS = ("auto", "fork", "spawn")


class RankError(NbtrainError, RuntimeError):
    """A rank raised; the message is that rank's own error (its traceback is chained below)."""

    def __init__(self, message: str, rank: Optional[int] = None, remote_traceback: str = ""):
        super().__init__(message)
        self.rank, self.remote_traceback = rank, remote_traceback


class RemoteTraceback(Exception):
    def __str__(self):
        return "\n" + self.args[0]


class RemoteLive(Live):
    """``run.live`` in the kernel: counters and the loss come from rank 0's stream."""

    def __init__(self):
        super().__init__()
        self.remote_loss: Optional[float] = None

    def loss(self) -> Optional[float]:
        return self.remote_loss

    def last_loss(self) -> Optional[float]:
        return self.remote_loss


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
            raise DeviceError("device='cuda' with processes > 1 needs CUDA GPUs, and none is available; use device='cpu'.")
        if processes > count and backend in (None, "nccl"):
            raise DeviceError(f"processes={processes} needs one GPU per rank but this machine has {count}; "
                              f"use processes={count}, or backend='gloo' to share GPUs.")
    backend = backend or ("nccl" if kind == "cuda" else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ConfigError(f"backend must be 'gloo' or 'nccl', got {backend!r}.")
    if backend == "nccl" and kind != "cuda":
        raise ConfigError("backend='nccl' needs device='cuda'; CPU ranks use backend='gloo'.")
    if amp not in (None, False, "", "fp32", "none") and str(amp).lower() not in ("bf16", "fp16"):
        raise ConfigError(f"amp must be 'bf16' or 'fp16' (or None for full precision), got {amp!r}.")
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
    run.config.update(device=f"{world} x {settings['device']} ({settings['backend']})", processes=world,
                      backend=settings["backend"], amp=settings["amp"] or "fp32")
    if bs < world:
        raise ConfigError(f"batch_size={bs} is smaller than processes={world}: each rank needs rows of every "
                          f"batch; use batch_size >= {world}.")
    return run, job


def default_start(settings: dict) -> str:
    if settings["device"] == "cuda" or torch.cuda.is_initialized() or "fork" not in _mp().get_all_start_methods():
        return "spawn"
    return "fork"


def _mp():
    import multiprocessing
    return multiprocessing


# ------------------------------------------------------------------------------------ ranks

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
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the group is the rank
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

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
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

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
            raise DeviceError("CUDA is already initialised in this kernel, so ranks cannot be forked; "
                              "use start='spawn' (the default for GPUs) or torchrun.")
        import importlib
        # DDP imports torch._dynamo lazily: ~1 s in every rank unless done once here, before the fork
        importlib.import_module("torch._dynamo")
        importlib.import_module("torch.nn.parallel")
        from .worker import fork_target
        ctx = _mp().get_context("fork")
        for r in range(world):
            p = ctx.Process(target=fork_target, args=(r, world, run, job, settings, outdir, store_port, os.getpid()),
                            name=f"nbtrain-rank{r}", daemon=False)
            p.start()
            ranks.append(_Forked(p))
        return ranks
    from .export import write_runfile
    runfile = write_runfile(os.path.join(outdir, "run.nbtrain"), run, job, settings)
    for r in range(world):
        env = dict(os.environ, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world), NBTRAIN_STORE_PORT=str(store_port),
                   NBTRAIN_STORE_HOST="127.0.0.1", NBTRAIN_PARENT_PID=str(os.getpid()))
        if settings["device"] == "cpu":
            env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
        log = open(os.path.join(outdir, f"rank-{r}.log"), "ab")
        try:
            p = subprocess.Popen([sys.executable, "-m", "nbtrain.worker", runfile, "--out", outdir], env=env,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        ranks.append(_Spawned(p))
    return ranks


# ------------------------------------------------------------------------------------ relay

class Relay:
    """Tails rank 0's events into ``run`` and the callbacks; watches the ranks; decides the outcome."""

    def __init__(self, run, cbs: CallbackList, outdir: str, ranks=(), poll: float = 0.02, grace: float = 10.0):
        self.run, self.cbs, self.reader, self.ranks = run, cbs, Reader(outdir), list(ranks)
        self.poll, self.grace = poll, grace
        self.end: Optional[dict] = None
        self.failure: Optional[dict] = None
        self._stop_sent = False
        self._end_seen: Optional[float] = None
        self.exit_grace = 5.0
        self.late_exit = False  # a rank had to be ended after rank 0 reported the result
        self._last_pump = time.monotonic()
        if not isinstance(run.live, RemoteLive):
            run.live = RemoteLive()

    def dispatch(self, ev: dict) -> None:
        run, cbs, live, kind = self.run, self.cbs, self.run.live, ev["event"]
        if kind == "epoch_start":
            live.epoch, live.batch, live.num_batches = ev["epoch"], 0, ev["num_batches"]
            live.epoch_start, live.remote_loss = time.perf_counter(), None
            cbs.on_epoch_start(run, ev["epoch"])
        elif kind == "batch":
            live.batch, live.step, live.remote_loss = ev["batch"], ev["step"], ev["loss"]
            cbs.on_batch_end(run, ev["epoch"], ev["batch"], ev["num_batches"])
            self._last_pump = time.monotonic()
        elif kind == "epoch_end":
            logs = cbs.on_epoch_end(run, ev["epoch"], ev["logs"])
            run.history.append(logs)
        elif kind == "interrupt":
            run._stop, run._stop_reason = True, run._stop_reason or ev["reason"]
            cbs.on_interrupt(run, reason=ev["reason"])
        elif kind == "fit_end":
            self.end = ev

    def step(self) -> bool:
        """One round of polling.  Returns True when the run is over (ended, or a rank failed)."""
        for ev in self.reader.poll():
            self.dispatch(ev)
        if self.run.stop_requested and not self._stop_sent:
            self.send_stop(self.run._stop_reason or "stop requested")
        codes = [r.poll() for r in self.ranks]
        if self.end is not None:  # the result is in: give the ranks a moment to exit, then end them
            if self._end_seen is None:
                self._end_seen = time.monotonic()
            if all(c is not None for c in codes):
                return True
            if time.monotonic() - self._end_seen > self.exit_grace:
                self.late_exit = True
                return True
            return False
        if self.reader.first_error() is not None:
            self.failure = self._blame()
            return True
        if any(c not in (None, 0) for c in codes):
            self.failure = self._blame()
            return True
        if self.ranks and all(c == 0 for c in codes):
            for ev in self.reader.poll():
                self.dispatch(ev)
            if self.end is None:
                self.failure = {"rank": 0, "type": "RankExit", "traceback": "",
                                "message": "the ranks ended without rank 0 reporting the end of training"}
            return True
        now = time.monotonic()
        if now - self._last_pump > 0.25 and self.run.live.batch:
            # keep the views (and the Stop button's message pump) alive while rank 0 validates
            self._last_pump = now
            live = self.run.live
            self.cbs.on_batch_end(self.run, live.epoch, live.batch, live.num_batches)
        return False

    def _blame(self) -> dict:
        """Which rank failed first.  A rank that raised wrote its error before exiting, so the first
        error file names it.  A rank killed by a signal (OOM killer, kill -9) writes nothing, and the
        others then fail on a broken connection: name the silent rank, not the first that noticed."""
        time.sleep(0.2)  # let the exits and error files of this moment land
        err = self.reader.first_error()
        for i, r in enumerate(self.ranks):
            code = r.poll()
            if code not in (None, 0) and not self.reader.has_error(i):
                msg = f"rank {i} ended with {_describe_exit(code)} without reporting an error (out of memory, or killed?)"
                if err is not None:
                    first = err["message"].splitlines()[0] if err["message"] else ""
                    msg += f"; then rank {err['rank']} failed: {err['type']}: {first}"
                return {"rank": i, "type": "RankExit", "traceback": "", "message": msg}
        return err or {"rank": 0, "type": "RankExit", "traceback": "", "message": "a rank failed without reporting why"}

    def send_stop(self, reason: str) -> None:
        self._stop_sent = True
        self.reader.request_stop(reason)

    def loop(self, deadline: Optional[float] = None) -> bool:
        while not self.step():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(self.poll)
        return True

    def kill_all(self, wait: float = 5.0) -> None:
        for r in self.ranks:
            r.kill()
        t_end = time.monotonic() + wait
        for r in self.ranks:
            r.wait(max(0.05, t_end - time.monotonic()))

    def finish(self, interrupted: bool = False) -> None:
        """Set the run's final state in the kernel and call ``on_fit_end`` (raises RankError on failure)."""
        run = self.run
        if self.failure is not None:
            f = self.failure
            msg = f"rank {f['rank']} failed: {f['type']}: {f['message']}" if f["type"] != "RankExit" else f["message"]
            run.status, run.error = "failed", msg
            run.config["rank_files"] = self.reader.outdir  # kept: the ranks' logs say more
            msg += f" (rank logs: {self.reader.outdir})"
            self.cbs.on_fit_end(run, status="failed")
            err = RankError(msg, f.get("rank"), f.get("traceback", ""))
            if f.get("traceback"):
                raise err from RemoteTraceback(f"Traceback from rank {f['rank']}:\n{f['traceback']}")
            raise err
        state = self.reader.weights() if self.end is not None else None
        if state is not None:
            run.model.load_state_dict(state)
        if self.end is not None:
            run.status = self.end["status"]
            run.error, run.note = self.end.get("error"), self.end.get("note")
            run.best_epoch = self.end.get("best_epoch")
        else:  # interrupted and the ranks did not answer in time
            run.status = "stopped"
            run.note = ((run._stop_reason or "interrupted") + "; the ranks did not stop in time and were ended, "
                        "so run.model holds the weights it started with (the history of finished epochs is kept)")
        run.live.batch = 0
        self.cbs.on_fit_end(run, status=run.status)


def _describe_exit(code) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def run_ranks(run, job, cbs: CallbackList, settings: dict, start: str = "auto", grace: float = 10.0,
              keep_files: bool = False):
    """Start the ranks, relay until the end, clean up.  Returns ``run``."""
    import torch.distributed as dist
    start = start or "auto"
    if start not in START_METHODS:
        raise ConfigError(f"start must be one of {', '.join(START_METHODS)}, got {start!r}.")
    if start == "auto":
        start = default_start(settings)
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
            run._stop, run._stop_reason = True, run._stop_reason or reason
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


def train_processes(args: dict, *, processes, callbacks=(), display="auto", name=None, start="auto",
                    backend=None, views=None):
    """``nbtrain.train(..., processes=N)``: the arguments of ``train`` in ``args``.

    ``start``: "auto" (fork CPU ranks; spawn when GPUs are used or CUDA is initialised), "fork" or
    "spawn" (``python -m nbtrain.worker`` per rank).  ``backend``: "gloo" or "nccl" (default: nccl
    for GPUs, gloo for CPUs; gloo lets ranks share a GPU).
    """
    from ..core.run import runs
    processes = check_processes(processes)
    settings = rank_settings(processes, args.get("device", "auto"), args.get("amp"), backend)
    run_name = name or runs.next_name()
    run, job = prepare_for_ranks(args, settings, run_name)
    run.config["checkpoint"] = None
    if views is None:
        from ..api import _views
        views = lambda r: _views(display, r)  # noqa: E731
    cbs = CallbackList(list(callbacks) + views(run))
    runs.pop(run_name, None)
    runs[run_name] = run
    return run_ranks(run, job, cbs, settings, start=start)
