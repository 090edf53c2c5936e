"""A folder of PNGs decoded with PIL in ``__getitem__``: ``nbtrain.train(..., workers=2)`` against a
hand-written loop over ``DataLoader(num_workers=2, persistent_workers=True)`` (issue 11 item 8a).

The images (32 x 32 RGB, 10 classes, one folder per class) are made on the fly in a temporary
folder.  The Dataset keeps ``targets`` as torchvision's ``ImageFolder`` does, so nbtrain reads no
sample before training.  Both sides train the same model (a small MLP on the flattened image) with
Adam, batch 64, shuffled, no validation split, for ``--epochs`` epochs; trials alternate.

Reported, medians over ``--repeats`` trials: the epoch time (epochs after the first; both sides keep
their workers alive across epochs; a one-second pause before each trial lets the other side's
workers end) and the time to the first batch (nbtrain: from the ``train``
call to the end of the first step, its checks included; the loop: from building the model and the
DataLoader to the end of the first step), nbtrain over the loop.

    python benchmarks/data_loading.py                    # 20,000 images, 5 trials
    python benchmarks/data_loading.py --images 5000 --repeats 5
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import torch
from PIL import Image
from torch import nn

SIDE, CLASSES, BATCH = 32, 10, 64


def make_images(root: str, n: int) -> None:
    rng = np.random.default_rng(0)
    for c in range(CLASSES):
        os.makedirs(os.path.join(root, f"class{c}"), exist_ok=True)
    for i in range(n):
        c = i % CLASSES
        img = rng.integers(0, 256, size=(SIDE, SIDE, 3), dtype=np.uint8)
        img[:, :, c % 3] //= 2 + c // 3  # a little signal per class
        Image.fromarray(img).save(os.path.join(root, f"class{c}", f"{i:06d}.png"))


class PngFolder(torch.utils.data.Dataset):
    """ImageFolder's shape: ``samples``, ``targets``, ``classes``; PIL decodes in ``__getitem__``."""

    def __init__(self, root: str):
        self.classes = sorted(os.listdir(root))
        self.samples = [
            (os.path.join(root, c, f), k)
            for k, c in enumerate(self.classes)
            for f in sorted(os.listdir(os.path.join(root, c)))
        ]
        self.targets = [k for _, k in self.samples]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, k = self.samples[i]
        with Image.open(path) as im:
            x = torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0)
        return x.permute(2, 0, 1), k


def make_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * SIDE * SIDE, 64), nn.ReLU(), nn.Linear(64, CLASSES))


def hand_loop(ds, epochs: int, workers: int) -> dict:
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(
        ds, batch_size=BATCH, shuffle=True, num_workers=workers, persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    first, times = None, []
    for _ in range(epochs):
        e0 = time.perf_counter()
        total = torch.zeros(())
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
            if first is None:
                first = time.perf_counter() - t0
        float(total)  # the epoch's one host read, as nbtrain's
        times.append(time.perf_counter() - e0)
    del loader
    return {"first": first, "epochs": times}


def with_nbtrain(ds, epochs: int, workers: int) -> dict:
    import nbtrain

    seen = {}

    class First(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if "first" not in seen:
                seen["first"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    torch.manual_seed(0)
    run = nbtrain.train(
        ds, model=make_model(), optimizer="adam", lr=1e-3, epochs=epochs, batch_size=BATCH, val=0, test=0,
        workers=workers, display="none", callbacks=[First()], name="bench",
    )  # fmt: skip
    assert run.status == "completed", run.error
    times = [row["time"] for row in run.history]
    del nbtrain.runs["bench"]
    return {"first": seen["first"], "epochs": times}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import nbtrain

    nbtrain.configure(store=None)
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        make_images(root, args.images)
        made = time.perf_counter() - t
        ds = PngFolder(root)
        # one untimed warm-up of each side (imports, the first optimizer), then alternating trials
        hand_loop(torch.utils.data.Subset(ds, range(256)), 1, 0)
        with_nbtrain(torch.utils.data.Subset(ds, range(256)), 1, 0)
        trials = {"nbtrain": [], "loop": []}
        sides = {"loop": hand_loop, "nbtrain": with_nbtrain}
        for i in range(args.repeats):
            for side in ("loop", "nbtrain") if i % 2 == 0 else ("nbtrain", "loop"):  # alternate who goes first
                gc.collect()
                time.sleep(1.0)  # let the other side's workers end before the clock starts
                trials[side].append(sides[side](ds, args.epochs, args.workers))

    def med(side, what):
        if what == "first":
            return statistics.median(t["first"] for t in trials[side])
        return statistics.median(e for t in trials[side] for e in t["epochs"][1:])

    out = {
        "images": args.images,
        "workers": args.workers,
        "repeats": args.repeats,
        "epochs": args.epochs,
        "make_images_s": round(made, 1),
        "epoch_s": {s: round(med(s, "epoch"), 3) for s in trials},
        "first_batch_s": {s: round(med(s, "first"), 3) for s in trials},
    }
    out["epoch_ratio"] = round(out["epoch_s"]["nbtrain"] / out["epoch_s"]["loop"], 3)
    out["first_batch_ratio"] = round(out["first_batch_s"]["nbtrain"] / out["first_batch_s"]["loop"], 3)
    print(f"{args.images} PNGs ({SIDE}x{SIDE} RGB), workers={args.workers}, medians of {args.repeats} trials")
    print("| | hand-written loop | nbtrain | nbtrain / loop |")
    print("|---|---|---|---|")
    e = out["epoch_s"]
    print(f"| epoch time (s) | {e['loop']:.2f} | {e['nbtrain']:.2f} | {out['epoch_ratio']:.2f} |")
    print(
        f"| time to first batch (s) | {out['first_batch_s']['loop']:.2f} | {out['first_batch_s']['nbtrain']:.2f} "
        f"| {out['first_batch_ratio']:.2f} |"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
