"""What logging costs a run: the same ``nbtrain.train`` call with no logger, with ``CSV``, with
``TensorBoard`` and with ``MLflow`` (a SQLite store in a temporary folder), alternating in one process;
``--repeats`` timings of each, medians compared with the run without a logger.

The loggers write once an epoch (never per batch), MLflow on a background thread; what a run pays is
that write, the start (the settings; MLflow: creating the run) and the end (MLflow: waiting for the
last writes and uploading the run file).  Digits, ``mlp(64)``, 20 epochs, batch 32 (34 steps an
epoch): a short run, where fixed costs weigh the most.

    python benchmarks/loggers.py            # 5 repeats
    python benchmarks/loggers.py --quick    # 2 repeats (a smoke test)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

import torch
from sklearn.datasets import load_digits

import nbtrain
from nbtrain.loggers import CSV, MLflow, TensorBoard


def arms(folder: str) -> dict:
    out = {"none": lambda name: [], "csv": lambda name: [CSV(os.path.join(folder, "csv", "{name}.csv"))]}
    try:
        out["tensorboard"] = lambda name: [TensorBoard(os.path.join(folder, "tb", "{name}"))]
    except nbtrain.ConfigError:
        pass
    try:
        MLflow()
        uri = f"sqlite:///{os.path.join(folder, 'mlflow.db')}"
        out["mlflow"] = lambda name: [MLflow(uri, experiment="bench")]
    except nbtrain.ConfigError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    repeats = 2 if a.quick else a.repeats
    torch.set_num_threads(1)
    nbtrain.configure(store=None)
    warnings.simplefilter("ignore")  # MLflow's and SQLAlchemy's deprecation notes
    data = load_digits(return_X_y=True)
    opts = dict(model="mlp(64)", preprocess="standardize", epochs=20, batch_size=32, display="none")
    with tempfile.TemporaryDirectory() as folder:
        kinds = arms(folder)
        for kind, make in kinds.items():  # warm-up: imports, MLflow's database schema
            nbtrain.train(data, **opts, name=f"warm-{kind}", callbacks=make(f"warm-{kind}"))
        times: dict = {k: [] for k in kinds}
        for i in range(repeats):
            for kind, make in kinds.items():
                name = f"{kind}-{i}"
                t0 = time.perf_counter()
                run = nbtrain.train(data, **opts, name=name, callbacks=make(name))
                times[kind].append(time.perf_counter() - t0)
                assert run.status == "completed"
    base = statistics.median(times["none"])
    print(f"digits, mlp(64), 20 epochs x 34 steps; medians of {repeats}, alternating in one process")
    print(f"{'logger':<12} {'median':>8} {'ratio':>7}  per epoch")
    for kind, ts in times.items():
        m = statistics.median(ts)
        print(f"{kind:<12} {m:7.3f}s {m / base:7.3f}  {(m - base) / 20 * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
