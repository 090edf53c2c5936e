"""1 process vs 2 ranks (DDP, gloo, CPU): time per epoch and launch overhead.

For each workload the same run is trained with ``processes=None`` (one process, all threads, and
one process with one thread),
``processes=2`` (forked ranks, one thread each) and optionally ``start="spawn"`` (the GPU route:
``python -m nbtrain.worker`` per rank).  Reported: the median epoch time (from ``run.history``, rank
0's time for the ranks), the wall time of the whole call, and launch overhead = wall - sum of epoch
times (preparing, starting ranks, joining the group, teardown).

    python benchmarks/distributed.py            # two workloads, 3 repeats, fork route
    python benchmarks/distributed.py --spawn    # also the spawn route
    python benchmarks/distributed.py --quick    # tiny sizes, 1 repeat (a smoke test)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")

import numpy as np

import nbtrain
from nbtrain.distributed.launcher import train_processes

WORKLOADS = {
    # launch and communication dominate: a tiny model, few rows
    "small": dict(n=2_000, d=16, model="mlp(32)", batch_size=64, epochs=5),
    # compute per step dominates: a wider model, larger batches
    "compute": dict(n=20_000, d=64, model="mlp(512, 512)", batch_size=512, epochs=2),
}


def data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X @ rng.normal(size=(d, 10))).argmax(1)
    return X, y


def measure(workload: dict, mode: str) -> dict:
    X, y = data(workload["n"], workload["d"])
    kw = dict(
        model=workload["model"],
        batch_size=workload["batch_size"],
        epochs=workload["epochs"],
        optimizer="adam",
        val=0.1,
        test=0.1,
    )
    t0 = time.perf_counter()
    if mode.startswith("1 process"):
        import torch

        threads = torch.get_num_threads()
        if "1 thread" in mode:
            torch.set_num_threads(1)
        try:
            run = nbtrain.train((X, y), display="none", **kw)
        finally:
            torch.set_num_threads(threads)
    else:
        start = "spawn" if "spawn" in mode else "fork"
        run = train_processes(dict(data=(X, y), **kw), processes=2, start=start)
    wall = time.perf_counter() - t0
    epochs = run.history["time"]
    assert run.status == "completed", run.error
    return {"epoch": statistics.median(epochs), "wall": wall, "overhead": wall - sum(epochs)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--spawn", action="store_true", help="also time the spawn route (python -m nbtrain.worker)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    workloads = WORKLOADS
    if args.quick:
        workloads = {"small": dict(n=400, d=8, model="mlp(8)", batch_size=32, epochs=2)}
        args.repeats = 1
    modes = ["1 process", "1 process, 1 thread", "2 ranks (fork)"] + (["2 ranks (spawn)"] if args.spawn else [])
    import torch

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, one-process threads: {torch.get_num_threads()}")
    for mode in ("1 process", "2 ranks (fork)"):  # warm-up: lazy imports, the first fork
        measure(next(iter(workloads.values())), mode)
    print(f"{'workload':10} {'mode':18} {'epoch s':>9} {'wall s':>8} {'launch+teardown s':>18}")
    for name, w in workloads.items():
        for mode in modes:
            rows = [measure(w, mode) for _ in range(args.repeats)]
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            print(f"{name:10} {mode:18} {med['epoch']:9.3f} {med['wall']:8.2f} {med['overhead']:18.2f}")


if __name__ == "__main__":
    main()
