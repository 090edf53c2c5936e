"""How long the first ``%%train`` of a kernel takes, with and without the ``%load_ext`` warm-up.

Each sample is a fresh Python process running IPython's ``InteractiveShell`` (what a kernel runs):
``import torch``, ``import nbtrain``, the cell ``%load_ext nbtrain``, a typing pause (``--pause``,
3 s), then the first ``%%train`` on 1,000 rows and a second, identical one.  Modes alternate:

- ``cold``: the warm-up switched off (what the first run cost before it existed);
- ``warm``: the extension as shipped (the warm-up runs during the pause).

The first train is timed from the moment its cell is run (a cell that has to wait for the warm-up
waits inside that time).  Reported: medians of ``--repeats`` processes per mode, the first train
against the second (the target: the first within 1 s of the second), and warm against cold.

    python benchmarks/first_run.py               # 5 processes per mode
    python benchmarks/first_run.py --repeats 3 --pause 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
import nbtrain
t2 = time.perf_counter()
import numpy as np
from IPython.core.interactiveshell import InteractiveShell

import nbtrain.core.warmup as warmup

torch.set_num_threads(1)
warm_s = []
if sys.argv[1] == "cold":
    warmup.start = lambda: False
else:
    plain = warmup._warm

    def timed():  # how long the warm-up thread itself takes
        s = time.perf_counter()
        plain()
        warm_s.append(time.perf_counter() - s)

    warmup._warm = timed
ip = InteractiveShell.instance()
rng = np.random.default_rng(0)  # the data without scikit-learn (importing it would warm the run)
ip.user_ns["X"] = rng.standard_normal((1000, 20)).astype("float32")
ip.user_ns["y"] = (ip.user_ns["X"][:, 0] > 0).astype("int64")
assert ip.run_cell("%load_ext nbtrain").success
time.sleep(float(sys.argv[2]))  # the user types the next cell; the kernel is idle
cell = "%%train --epochs 1 --quiet --name {}\ndata = (X, y)"
times = []
for name in ("first", "second"):
    start = time.perf_counter()
    warmup.wait()  # what the cell's pre_run_cell does first, timed on its own
    waited = time.perf_counter() - start
    result = ip.run_cell(cell.format(name))
    times.append((time.perf_counter() - start, waited))
    assert result.success and result.result.status == "completed", result.error_in_exec
print(json.dumps({
    "import_torch": t1 - t0, "import_nbtrain": t2 - t1, "first": times[0][0], "second": times[1][0],
    "waited": times[0][1], "warmup": warm_s[0] if warm_s else 0.0,
}))
"""


def sample(mode: str, pause: float, store: str) -> dict:
    env = dict(os.environ, NBTRAIN_STORE=store, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(pause)], capture_output=True, text=True, env=env, timeout=600
    )
    if proc.returncode != 0:
        raise SystemExit(f"{mode} sample failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="fresh processes per mode (default 5)")
    ap.add_argument("--pause", type=float, default=3.0, help="seconds between %%load_ext and %%train (default 3)")
    args = ap.parse_args(argv)
    modes = ("cold", "warm")
    samples = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="nbtrain-first-run-") as store:
        for i in range(args.repeats):
            for mode in modes if i % 2 == 0 else modes[::-1]:  # alternate which goes first
                samples[mode].append(sample(mode, args.pause, store))
                print(f"  {mode} #{i + 1}: " + ", ".join(f"{k} {v:.3f}s" for k, v in samples[mode][-1].items()))

    def med(mode, key):
        return statistics.median(s[key] for s in samples[mode])

    print(f"\n1,000 rows, 1 epoch, {args.pause:g} s typing pause, median of {args.repeats} fresh processes per mode\n")
    print(
        "| mode | warm-up thread s | first %%train s (of which waiting) | second %%train s | first − second s "
        "| first vs cold |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for mode in modes:
        first, second = med(mode, "first"), med(mode, "second")
        ratio = statistics.median(s["first"] / c["first"] for s, c in zip(samples[mode], samples["cold"]))
        print(
            f"| {mode} | {med(mode, 'warmup'):.3f} | {first:.3f} ({med(mode, 'waited'):.3f}) | {second:.3f} "
            f"| {first - second:.3f} | {ratio:.3f} |"
        )
    over = statistics.median(s["import_nbtrain"] for m in modes for s in samples[m])
    torch_s = statistics.median(s["import_torch"] for m in modes for s in samples[m])
    print(f"\n`import torch` {torch_s:.3f} s, then `import nbtrain` {over:.3f} s more (median of all processes)")


if __name__ == "__main__":
    main()
