"""What one rank runs: forked from the kernel, spawned as ``python -m nbtrain.worker``, or under torchrun.

    torchrun --nnodes=2 --nproc-per-node=1 --rdzv-backend=c10d --rdzv-endpoint=HOST:PORT \\
        -m nbtrain.worker RUNFILE [--out DIR]

``RUNFILE`` comes from :func:`nbtrain.distributed.export`; rank 0 writes its events and final
weights to ``DIR`` (default ``RUNFILE.out``), where :func:`nbtrain.attach` reads them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

FORMAT = "nbtrain-runfile"


def _guard_parent(parent_pid) -> None:
    """Die with the launcher: SIGKILL on parent death (Linux), and never outlive it at start."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent_pid and os.getppid() != int(parent_pid):
        os._exit(1)


def _to_device(run, job, device) -> None:
    import torch

    if device.type == "cpu":
        return
    run.model.to(device)  # in place: the optimizer keeps the same Parameter objects
    for b in {id(b): b for b in [job.train_batches, job.val_batches, *run._splits.values()] if b is not None}.values():
        if isinstance(getattr(b, "y", None), torch.Tensor) and hasattr(b, "X"):
            from ..core.batch import to_device

            b.X, b.y = to_device(b.X, device, dtype=None), b.y.to(device)  # any structure of inputs
        if hasattr(b, "device"):
            b.device = device
    for state in job.optimizer.state.values():
        for k, v in list(state.items()):
            if isinstance(v, torch.Tensor) and k != "step":
                state[k] = v.to(device)


def rank_main(
    rank: int,
    world: int,
    local_rank: int,
    run,
    job,
    settings: dict,
    outdir: str,
    store_port=None,
    store_host: str = "127.0.0.1",
) -> int:
    """Join the process group, train, report.  Returns 0; on an error records it and exits 1."""
    from .channel import Channel, record_error

    channel = None
    try:
        import datetime

        import torch
        import torch.distributed as dist

        from ..core.device import make_precision
        from ..core.evaluation import make_evaluator
        from ..core.optim import fuse_for
        from .ddp import ddp_fit

        if settings["device"] == "cuda":
            device = torch.device("cuda", local_rank % torch.cuda.device_count())  # shared GPUs: gloo only
            torch.cuda.set_device(device)
        else:
            device = torch.device("cpu")
            torch.set_num_threads(int(settings.get("threads") or 1))
        backend = settings["backend"]
        timeout = datetime.timedelta(seconds=float(settings.get("pg_timeout", 1800)))
        if store_port is not None:
            store = dist.TCPStore(store_host, int(store_port), world, is_master=False, timeout=timeout)
            dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=timeout)
        else:  # torchrun: MASTER_ADDR/MASTER_PORT or the agent's store
            dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world, timeout=timeout)
        _to_device(run, job, device)
        job.precision = make_precision(settings.get("amp"), device)
        run._precision = job.precision
        # prepared in the kernel for the CPU: a preset optimizer gets the fused kernel this device has
        fuse_for(job.optimizer, run.config.get("optimizer"), device, job.precision.name == "fp16")
        c = run.config
        evaluator = make_evaluator(
            job.loss_fn,
            job.precision,
            c.get("metrics") or [],
            run.task,
            c.get("n_classes", 0),
            chunk=max(int(c.get("batch_size", 32)), 1024),
            kind=c.get("target_kind", "label"),  # multi-hot rows, labels per position (-100 left out)
        )
        torch.manual_seed(int(c.get("seed", 0)) + 1 + rank)  # dropout masks differ between ranks
        channel = Channel(outdir, lead=rank == 0, interval=float(settings.get("interval", 0.1)))
        ddp_fit(
            run,
            job,
            rank=rank,
            world=world,
            device=device,
            channel=channel,
            evaluator=evaluator,
            stop_every=settings.get("stop_every"),  # None: rank 0 picks it (a check about every 0.2 s)
        )
        dist.destroy_process_group()
        channel.close()
        return 0
    except BaseException as exc:
        try:
            record_error(outdir, rank, exc)
        finally:
            _flush()
            os._exit(1)  # no destroy: the other ranks may be blocked in a collective


def _flush() -> None:
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass


def _redirect_output(outdir: str, rank: int) -> None:
    """Ranks print to a log file: a forked rank must never write to the kernel's ZMQ streams."""
    f = open(os.path.join(outdir, f"rank-{rank}.log"), "a", buffering=1, encoding="utf-8")
    sys.stdout = sys.stderr = f
    os.dup2(f.fileno(), 1)  # and what C code prints
    os.dup2(f.fileno(), 2)


def fork_target(rank: int, world: int, run, job, settings: dict, outdir: str, store_port: int, parent_pid: int):
    """Entry of a forked rank (``multiprocessing`` fork context)."""
    import gc

    gc.freeze()  # the kernel's objects: keeps gc.collect() at the end fast and stops copying their pages
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the kernel handles interrupts and stops every rank
    os.setsid()  # a kernel interrupt to the process group misses the ranks
    _guard_parent(parent_pid)
    _redirect_output(outdir, rank)
    code = rank_main(rank, world, rank, run, job, settings, outdir, store_port=store_port)
    _flush()
    os._exit(code)  # skip the kernel's atexit handlers and finalizers inherited by fork


def write_runfile(path, run, job, settings: dict) -> str:
    """The prepared run as a cloudpickle for ``python -m nbtrain.worker`` (callbacks and checkpointing
    stay in the kernel).  Written to a temporary file, then renamed into place."""
    try:
        import cloudpickle as pickler
    except ImportError:  # pragma: no cover - cloudpickle comes with scikit-learn's joblib
        import pickle as pickler
    from ..core.events import CallbackList

    saved_cbs, saved_ckpt, saved_live = job.callbacks, job.checkpoint, run.live
    job.callbacks, job.checkpoint = CallbackList(), None
    try:
        blob = pickler.dumps({"format": FORMAT, "version": 1, "run": run, "job": job, "settings": dict(settings)})
    finally:
        job.callbacks, job.checkpoint, run.live = saved_cbs, saved_ckpt, saved_live
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, path)
    return path


def read_runfile(path: str) -> dict:
    import pickle

    with open(path, "rb") as f:
        payload = pickle.load(f)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        from ..core.errors import RunFileError

        raise RunFileError(f"{path!r} is not an nbtrain run file; create one with nbtrain.distributed.export().")
    return payload


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbtrain.worker", description=__doc__.split("\n")[0])
    parser.add_argument("runfile", help="a file written by nbtrain.distributed.export()")
    parser.add_argument("--out", default=None, help="directory for rank 0's events and weights (default RUNFILE.out)")
    args = parser.parse_args(argv)
    env = os.environ
    rank, world = int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1))
    local_rank = int(env.get("LOCAL_RANK", rank))
    outdir = args.out or env.get("NBTRAIN_OUTDIR") or args.runfile + ".out"
    os.makedirs(outdir, exist_ok=True)
    _guard_parent(env.get("NBTRAIN_PARENT_PID"))
    if env.get("NBTRAIN_STORE_PORT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # launched by a kernel: the kernel stops us
    try:
        payload = read_runfile(args.runfile)
    except BaseException as exc:
        from .channel import record_error

        record_error(outdir, rank, exc)
        print(f"rank {rank}: {type(exc).__name__}: {exc}", file=sys.stderr)
        _flush()
        os._exit(1)
    settings = dict(payload["settings"])
    if env.get("NBTRAIN_THREADS"):
        settings["threads"] = int(env["NBTRAIN_THREADS"])
    code = rank_main(
        rank,
        world,
        local_rank,
        payload["run"],
        payload["job"],
        settings,
        outdir,
        store_port=env.get("NBTRAIN_STORE_PORT"),
        store_host=env.get("NBTRAIN_STORE_HOST", "127.0.0.1"),
    )
    _flush()
    os._exit(code)  # never hang in interpreter teardown after training


if __name__ == "__main__":
    main()
