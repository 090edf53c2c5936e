"""What tuning costs: a sweep against the same runs in a hand loop, and the learning-rate finder
against one epoch.

1. Sweep overhead: ``nbtrain.sweep`` with 10 trials (TPE, pruning off, display off) against a hand
   loop of 10 ``nbtrain.train`` calls with exactly the parameters the sweep sampled (read from its
   trials).  The two alternate; each is timed ``--repeats`` times and the medians are compared.  What
   the sweep adds: Optuna's ask/tell and sampling, one pre-flight ``prepare`` (the check that the
   metric exists), and the reporter callback.  Optuna is imported by a warm-up sweep first (once per
   session, ~0.5 s) so it is not counted.
2. Finder cost: the wall time of ``nbtrain.lr_find`` (default: at most 100 steps, ``prepare`` and
   the state put back included) as a fraction of one epoch of training on the same data, on digits
   (34 steps an epoch) and on a synthetic 60,000-row table (1,125 steps an epoch).

    python benchmarks/tuning.py            # 5 repeats
    python benchmarks/tuning.py --quick    # 3 repeats, fewer epochs (a smoke test)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits

import nbtrain

SPACE = dict(model=nbtrain.choice(["mlp(32)", "mlp(64, 64)"]), lr=nbtrain.loguniform(1e-4, 1e-1),
             batch_size=nbtrain.choice([32, 64]))  # fmt: skip


def one_sweep(data, epochs: int, name: str):
    t0 = time.perf_counter()
    s = nbtrain.sweep(data, preprocess="standardize", epochs=epochs, trials=10, metric="val_accuracy",
                      display="none", name=name, **SPACE)  # fmt: skip
    return time.perf_counter() - t0, [r.params for r in s.rows()]


def hand_loop(data, epochs: int, params: list, name: str):
    t0 = time.perf_counter()
    for i, p in enumerate(params):
        nbtrain.train(data, preprocess="standardize", epochs=epochs, display="none", name=f"{name}-{i}", **p)
    return time.perf_counter() - t0


def sweep_overhead(data, epochs: int, repeats: int) -> dict:
    one_sweep(data, 1, "warmup")  # imports Optuna and torch's lazy modules once
    sweeps, hands = [], []
    for r in range(repeats):
        t_sweep, params = one_sweep(data, epochs, f"bench{r}")
        sweeps.append(t_sweep)
        hands.append(hand_loop(data, epochs, params, f"hand{r}"))
        nbtrain.runs.clear()
    s, h = statistics.median(sweeps), statistics.median(hands)
    return {"sweep_s": s, "hand_s": h, "ratio": s / h, "sweeps": sweeps, "hands": hands}


def finder_cost(data, label: str, repeats: int, batch_size: int = 32) -> dict:
    kw = dict(model="mlp(64)", preprocess="standardize", batch_size=batch_size)
    finds, epochs = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lr = nbtrain.lr_find(data, **kw)
        finds.append(time.perf_counter() - t0)
        run = nbtrain.train(data, epochs=2, display="none", lr=lr, **kw)
        epochs.append(statistics.median(run.history["time"]))
        nbtrain.runs.clear()
    f, e = statistics.median(finds), statistics.median(epochs)
    return {"data": label, "finder_s": f, "epoch_s": e, "fraction": f / e, "steps": len(lr.finding.lrs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5, help="epochs of each trial (default: 5)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.epochs = 3, 2
    torch.set_num_threads(1)
    digits = load_digits(return_X_y=True)
    res = sweep_overhead(digits, args.epochs, args.repeats)
    print(f"sweep of 10 trials ({args.epochs} epochs each, digits) vs the same 10 train calls, "
          f"median of {args.repeats}:")  # fmt: skip
    print(f"  sweep {res['sweep_s']:.2f} s   hand loop {res['hand_s']:.2f} s   ratio {res['ratio']:.3f}")
    print(f"  runs: sweep {[round(t, 2) for t in res['sweeps']]}  hand {[round(t, 2) for t in res['hands']]}")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60_000, 64)).astype(np.float32)
    y = (X @ rng.standard_normal((64, 10))).argmax(1)
    print("learning-rate finder (at most 100 steps) vs one epoch of training, median of", args.repeats)
    for data, label in ((digits, "digits, 1,078 training rows"), ((X, y), "synthetic, 36,000 training rows")):
        f = finder_cost(data, label, args.repeats)
        print(f"  {label}: finder {f['finder_s']:.2f} s ({f['steps']} steps), one epoch {f['epoch_s']:.2f} s: "
              f"{f['fraction']:.2f} of an epoch")  # fmt: skip


if __name__ == "__main__":
    main()
