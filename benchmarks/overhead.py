"""nbtrain.train vs a hand-written PyTorch loop doing the same work, in one process.

Same model (MLP 64-256-256-10), same data resident on the device, same batch-order method (a seeded
per-epoch permutation, one gather, contiguous slices), same optimizer (Adam), no validation split.
Runs alternate; each configuration is timed ``--repeats`` times and the medians are compared.
A third column times the hand-written loop over ``DataLoader(TensorDataset, shuffle=True)``.

    python benchmarks/overhead.py            # both configurations, 5 repeats
    python benchmarks/overhead.py --quick    # small sizes, 3 repeats (a smoke test)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

import nbtrain


def mlp(n_in=64, n_out=10):
    return nn.Sequential(
        nn.Flatten(), nn.Linear(n_in, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, n_out)
    )


def make_data(n, d=64, k=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    W = rng.standard_normal((d, k)).astype(np.float32)
    y = (X @ W).argmax(1).astype(np.int64)
    return X, y


def hand_written(X, y, epochs, bs, device, fused):
    torch.manual_seed(0)
    Xt, yt = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    model = mlp().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    g = torch.Generator().manual_seed(0)
    n = len(Xt)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g).to(device)
        Xp, yp = Xt[perm], yt[perm]
        total = torch.zeros((), device=device)
        for i in range(0, n, bs):
            out = model(Xp[i : i + bs])
            loss = nn.functional.cross_entropy(out, yp[i : i + bs])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        float(total)  # one host read per epoch, like nbtrain
    return model


def data_loader(X, y, epochs, bs, device):
    torch.manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True)
    model = mlp().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def with_nbtrain(X, y, epochs, bs, device, display="none"):
    return nbtrain.train(
        (X, y),
        model=mlp(),
        loss="cross_entropy",
        optimizer="adam",
        lr=1e-3,
        epochs=epochs,
        batch_size=bs,
        val=0,
        test=0,
        metrics=[],
        device=device,
        display=display,
        name="bench",
    )


def timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t


def bench(label, n, bs, epochs, repeats, device):
    X, y = make_data(n)
    cases = {
        "nbtrain": lambda: with_nbtrain(X, y, epochs, bs, device),
        "hand (Adam)": lambda: hand_written(X, y, epochs, bs, device, fused=None),
        "hand (Adam fused)": lambda: hand_written(X, y, epochs, bs, device, fused=True),
        "hand + DataLoader": lambda: data_loader(X, y, epochs, bs, device),
    }
    with_nbtrain(X[:2048], y[:2048], 1, bs, device)  # warm-up: imports, allocator, kernels
    times = {k: [] for k in cases}
    for _ in range(repeats):
        for k, fn in cases.items():  # alternate, so drift hits every case alike
            times[k].append(timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["hand (Adam)"]
    print(
        f"\n({label}) {n:,} x 64, 10 classes, MLP 64-256-256-10, batch {bs}, {epochs} epoch(s), "
        f"{device}, median of {repeats}"
    )
    print(f"  {'loop':<20} {'median s':>9} {'vs hand (Adam)':>15}")
    for k, v in med.items():
        print(f"  {k:<20} {v:>9.3f} {v / base:>14.3f}x", flush=True)
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    device = nbtrain.core.device.resolve_device(args.device) if hasattr(nbtrain, "core") else "cpu"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    scale = 10 if args.quick else 1
    repeats = 3 if args.quick else args.repeats
    a = bench("a", 200_000 // scale, 256, 1, repeats, device)
    b = bench("b", 50_000 // scale, 32, 1, repeats, device)
    print(
        "\nnbtrain / hand-written (Adam):  (a) {:.3f}   (b) {:.3f}".format(
            a["nbtrain"] / a["hand (Adam)"], b["nbtrain"] / b["hand (Adam)"]
        )
    )
    print(
        "nbtrain / hand-written (fused): (a) {:.3f}   (b) {:.3f}".format(
            a["nbtrain"] / a["hand (Adam fused)"], b["nbtrain"] / b["hand (Adam fused)"]
        )
    )


if __name__ == "__main__":
    main()
