"""Promise 6: 200 short runs back to back in one process, then in one Jupyter kernel: memory (RSS)
and open file descriptors stay within a small bound.  The figures are printed (pytest -s)."""

import gc
import os
import sys
import time

import pytest
from hardening_helpers import tiny_data

import nbtrain

N_RUNS = 200
RSS_BOUND_MB = 40  # growth allowed between run 20 (warmed up) and run 200
FD_BOUND = 3


def rss_mb(pid="self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def n_fds(pid="self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_soak_in_process(tmp_path):
    X, y = tiny_data(n=60)
    ck = str(tmp_path / "soak.pt")
    figures = []
    t0 = time.perf_counter()
    for i in range(1, N_RUNS + 1):
        # the same name each time: re-running a cell replaces the run (no legitimate growth)
        run = nbtrain.train(
            (X, y),
            model="mlp(8)",
            preprocess="standardize",
            epochs=1,
            batch_size=16,
            display="none",
            name="soak",
            checkpoint=ck if i % 10 == 5 else None,
        )
        assert run.status == "completed"
        if i % 10 == 0:
            loaded = nbtrain.load(run.save(tmp_path / "soak.nbtrain"))
            assert len(loaded.predict(X)) == len(X)
        if i in (20, N_RUNS):
            gc.collect()
            figures.append((i, rss_mb(), n_fds()))
    elapsed = time.perf_counter() - t0
    (i0, rss0, fd0), (i1, rss1, fd1) = figures
    print(
        f"\nsoak in process: {N_RUNS} runs in {elapsed:.1f} s; RSS {rss0:.1f} MB after run {i0} -> "
        f"{rss1:.1f} MB after run {i1} (+{rss1 - rss0:.1f} MB); open fds {fd0} -> {fd1}; "
        f"runs registered: {len(nbtrain.runs)}"
    )
    assert len(nbtrain.runs) == 1
    assert rss1 - rss0 < RSS_BOUND_MB, f"RSS grew by {rss1 - rss0:.1f} MB over {N_RUNS - 20} runs"
    assert fd1 - fd0 <= FD_BOUND, f"open file descriptors grew from {fd0} to {fd1}"


KERNEL_SETUP = """
import os, gc, numpy as np, torch
import nbtrain
torch.set_num_threads(1)
%load_ext nbtrain
%config NbtrainMagics.display = 'none'
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 4)).astype(np.float32); y = np.arange(60) % 3
def _fig():
    gc.collect()
    rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]
    return int(rss) / 1024, len(os.listdir('/proc/self/fd'))
"""

KERNEL_CELL = """%%train --epochs 1 --batch-size 16 --name soak --quiet
data = (X, y)
model = "mlp(8)"
preprocess = "standardize"
"""


@pytest.mark.slow
def test_soak_in_a_kernel():
    """The same in a real IPython kernel, one %%train cell per run, each executed over ZMQ.
    (IPython's output cache ``Out`` keeps every returned Run: a few kB each, inside the bound.)"""
    pytest.importorskip("jupyter_client")
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:

        def run(code, timeout=60):
            reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok", reply["content"]
            return reply

        def figures():
            out = {}

            def hook(msg):
                if msg["msg_type"] == "execute_result":
                    out["v"] = msg["content"]["data"]["text/plain"]

            kc.execute_interactive("_fig()", timeout=60, output_hook=hook)
            rss, fds = out["v"].strip("()").split(",")
            return float(rss), int(fds)

        run(KERNEL_SETUP, timeout=120)
        t0 = time.perf_counter()
        for i in range(1, N_RUNS + 1):
            run(KERNEL_CELL)
            if i == 20:
                rss0, fd0 = figures()
        rss1, fd1 = figures()
        elapsed = time.perf_counter() - t0
        print(
            f"\nsoak in a kernel: {N_RUNS} %%train cells in {elapsed:.1f} s; RSS {rss0:.1f} MB after run 20 -> "
            f"{rss1:.1f} MB after run {N_RUNS} (+{rss1 - rss0:.1f} MB); open fds {fd0} -> {fd1}"
        )
        assert rss1 - rss0 < RSS_BOUND_MB, f"kernel RSS grew by {rss1 - rss0:.1f} MB"
        assert fd1 - fd0 <= FD_BOUND, f"kernel fds grew from {fd0} to {fd1}"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
