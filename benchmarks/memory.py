"""Resident memory over ten runs on the same arrays in one process (issue 11 items 5 and 8b).

Ten ``nbtrain.train`` calls on the same 200,000 x 64 float32 arrays (51 MB) with the same
preprocessing, as an afternoon in one kernel: the resident size (RSS, /proc/self/statm) after each
run, the growth after the first run against the data's size, and a check that every run still
evaluates and predicts with the same numbers as right after it trained.  Then ``del
nbtrain.runs[name]`` for all of them and the RSS after that.

    python benchmarks/memory.py                  # 200,000 x 64, ten runs
    python benchmarks/memory.py --rows 50000 --runs 5
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    import nbtrain

    torch.set_num_threads(1)
    nbtrain.configure(store=None)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    data_mb = (X.nbytes + y.nbytes) / 1e6
    probe = X[:256]
    gc.collect()
    before = rss_mb()
    rss, first = [], {}
    for i in range(args.runs):
        run = nbtrain.train(
            (X, y), model="mlp(32)", preprocess="standardize", epochs=1, batch_size=1024,
            display="none", name=f"m{i}",
        )  # fmt: skip
        first[run.name] = (run.evaluate()["accuracy"], run.predict_proba(probe))
        del run
        gc.collect()
        rss.append(rss_mb())
    same = all(
        nbtrain.runs[name].evaluate()["accuracy"] == acc
        and np.array_equal(nbtrain.runs[name].predict_proba(probe), proba)
        for name, (acc, proba) in first.items()
    )
    for name in list(first):
        del nbtrain.runs[name]
    gc.collect()
    result = {
        "rows": args.rows,
        "features": args.features,
        "runs": args.runs,
        "data_mb": round(data_mb, 1),
        "rss_before_mb": round(before, 1),
        "rss_after_each_mb": [round(v, 1) for v in rss],
        "growth_after_first_mb": round(rss[-1] - rss[0], 1),
        "growth_over_data": round((rss[-1] - rss[0]) / data_mb, 2),
        "same_numbers": same,
        "rss_after_del_mb": round(rss_mb(), 1),
    }
    print(f"data {data_mb:.1f} MB; RSS before the first run {before:.0f} MB")
    print("| after run | " + " | ".join(str(i + 1) for i in range(len(rss))) + " |")
    print("|---|" + "---|" * len(rss))
    print("| RSS (MB) | " + " | ".join(f"{v:.0f}" for v in rss) + " |")
    print(
        f"growth after the first run: {result['growth_after_first_mb']} MB "
        f"({result['growth_over_data']}x the data); same numbers afterwards: {same}; "
        f"after del nbtrain.runs[...]: {result['rss_after_del_mb']} MB"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
