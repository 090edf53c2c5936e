"""Structured inputs: nbtrain.train vs a hand-written PyTorch loop doing the same work, in one process.

Three cases (issue 19 item 8), each timed per epoch at batch 256, runs alternating, medians of
``--repeats`` compared side by side:

- ``dict``      a two-input model (numbers + a categorical embedding) fed from a dict of arrays,
                the hand loop slicing a per-epoch permutation of both arrays on the device;
- ``ids``       an ``EmbeddingBag`` model on int64 token ids (N, 12);
- ``dataset``   a Dataset of dict items (``{"num", "cat", "labels"}``) through a DataLoader, the hand
                loop over ``DataLoader(ds, batch_size=256, shuffle=True)`` splitting each dict batch.

nbtrain runs with ``val=0, test=0`` (no validation pass), Adam, the same model and data; its time
per epoch is the run's history ``time`` column (median over epochs 2..E), the hand loop's the wall
time of the same epochs.  Targets: <= 1.05x for ``dict`` and ``ids``, <= 1.10x for ``dataset``.

    python benchmarks/structured.py            # 5 repeats, 6 epochs each
    python benchmarks/structured.py --quick    # a smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

import nbtrain

BS = 256


class TwoInputs(nn.Module):
    def __init__(self, d=16, cats=50):
        super().__init__()
        self.emb = nn.Embedding(cats, 8)
        self.net = nn.Sequential(nn.Linear(d + 8, 128), nn.ReLU(), nn.Linear(128, 2))

    def forward(self, num, cat):
        return self.net(torch.cat([num, self.emb(cat)], 1))


class Bag(nn.Module):
    def __init__(self, vocab=5000):
        super().__init__()
        self.emb, self.out = nn.EmbeddingBag(vocab, 64), nn.Linear(64, 2)

    def forward(self, ids):
        return self.out(self.emb(ids))


def make(n, seed=0):
    rng = np.random.default_rng(seed)
    num = rng.standard_normal((n, 16)).astype(np.float32)
    cat = rng.integers(0, 50, size=n)
    ids = rng.integers(0, 5000, size=(n, 12))
    y = ((num[:, 0] > 0) ^ (cat % 2 == 0)).astype(np.int64)
    return num, cat, ids, y


class Items(torch.utils.data.Dataset):
    def __init__(self, num, cat, y):
        self.num, self.cat, self.y = torch.from_numpy(num), torch.from_numpy(cat), torch.from_numpy(y)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"num": self.num[i], "cat": self.cat[i], "labels": self.y[i]}


def hand_memory(inputs: dict, y, model, epochs, device) -> list:
    """Per-epoch seconds of the hand loop over tensors on the device (dict of inputs -> model(**x))."""
    torch.manual_seed(0)
    xs = {k: torch.from_numpy(v).to(device) for k, v in inputs.items()}
    yt = torch.from_numpy(y).to(device)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as nbtrain's "adam" preset
    g = torch.Generator().manual_seed(0)
    n, times = len(yt), []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=g).to(device)
        xp, yp = {k: v[perm] for k, v in xs.items()}, yt[perm]
        total = torch.zeros((), device=device)
        for i in range(0, n, BS):
            out = model(**{k: v[i : i + BS] for k, v in xp.items()})
            loss = nn.functional.cross_entropy(out, yp[i : i + BS])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        float(total)
        times.append(time.perf_counter() - t0)
    return times


def hand_loader(ds, model, epochs, device) -> list:
    torch.manual_seed(0)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as nbtrain's "adam" preset
    loader = torch.utils.data.DataLoader(ds, batch_size=BS, shuffle=True, generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        total = torch.zeros((), device=device)
        for b in loader:
            y = b.pop("labels").to(device)
            out = model(**{k: v.to(device) for k, v in b.items()})
            loss = nn.functional.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        float(total)
        times.append(time.perf_counter() - t0)
    return times


def ours(data, model, epochs, device, **kw) -> list:
    torch.manual_seed(0)
    run = nbtrain.train(
        data, model=model, optimizer="adam", lr=1e-3, epochs=epochs, batch_size=BS, val=0, test=0,
        metrics=[], device=device, display="none", **kw,
    )  # fmt: skip
    return run.history["time"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.n, args.epochs, args.repeats = 5_000, 3, 2
    torch.set_num_threads(1)
    num, cat, ids, y = make(args.n)
    ds = Items(num, cat, y)
    cases = {
        "dict": (
            lambda: ours(({"num": num, "cat": cat}, y), TwoInputs(), args.epochs, args.device),
            lambda: hand_memory({"num": num, "cat": cat}, y, TwoInputs(), args.epochs, args.device),
            1.05,
        ),
        "ids": (
            lambda: ours((ids, y), Bag(), args.epochs, args.device),
            lambda: hand_memory({"ids": ids}, y, Bag(), args.epochs, args.device),
            1.05,
        ),
        "dataset": (
            lambda: ours(ds, TwoInputs(), args.epochs, args.device, classes=2),
            lambda: hand_loader(ds, TwoInputs(), args.epochs, args.device),
            1.10,
        ),
    }
    print(f"n={args.n} batch={BS} epochs={args.epochs} repeats={args.repeats} device={args.device} (1 thread)")
    print(f"{'case':8} {'nbtrain s/epoch':>16} {'hand s/epoch':>13} {'ratio':>6} {'target':>7}")
    for name, (mine, hand, target) in cases.items():
        a, b = [], []
        for _ in range(args.repeats):  # alternate, after one warm-up each
            a.append(statistics.median(mine()[1:]))
            b.append(statistics.median(hand()[1:]))
        ma, mb = statistics.median(a[1:] or a), statistics.median(b[1:] or b)
        print(f"{name:8} {ma:16.4f} {mb:13.4f} {ma / mb:6.3f} {target:7.2f}")


if __name__ == "__main__":
    main()
