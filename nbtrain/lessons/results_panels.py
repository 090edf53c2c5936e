"""The lessons' panels on results and speed: 06 evaluation (a decision threshold along the ROC
and precision-recall curves) and 07 speed (throughput measured live)."""

from __future__ import annotations

import math
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .explorer import Explorer, Summary

# ---------------------------------------------------------------- 06 evaluation


def threshold_metrics(y_true, score, threshold):
    """Accuracy, precision, recall, F1 and the confusion counts when ``score >= threshold`` flags positive."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    y_true = np.asarray(y_true)
    pred = (np.asarray(score) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, pred, labels=[0, 1]).ravel()
    return {
        "accuracy": float(accuracy_score(y_true, pred)),
        "precision": float(precision_score(y_true, pred, zero_division=0)),
        "recall": float(recall_score(y_true, pred, zero_division=0)),
        "f1": float(f1_score(y_true, pred, zero_division=0)),
        "fpr": float(fp / max(fp + tn, 1)),
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "tn": int(tn),
    }


def threshold_explorer(y_true, score, positive="positive", negative="negative"):
    """A decision-threshold slider moving along the ROC and precision–recall curves."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y_true, score)
    prec, rec, _ = precision_recall_curve(y_true, score)
    base = float(np.mean(y_true))

    def render(threshold):
        m = threshold_metrics(y_true, score, threshold)
        fig = Figure(figsize=(9, 3.6))
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot(fpr, tpr)
        ax1.plot([0, 1], [0, 1], ":", color="grey")
        ax1.plot([m["fpr"]], [m["recall"]], "o", color="crimson", ms=9)
        ax1.set_xlabel(f"false-positive rate ({negative} cases flagged)")
        ax1.set_ylabel(f"true-positive rate = recall ({positive})")
        ax1.set_title("ROC curve")
        ax2.plot(rec, prec)
        ax2.axhline(base, ls=":", color="grey", label=f"random ({base:.1%} {positive})")
        ax2.plot([m["recall"]], [m["precision"]], "o", color="crimson", ms=9, label=f"threshold {threshold:.2f}")
        ax2.set_xlabel(f"recall (share of {positive} cases found)")
        ax2.set_ylabel("precision (share of flags that are right)")
        ax2.set_ylim(0, 1.05)
        ax2.set_title("precision–recall curve")
        ax2.legend(fontsize=8)
        fig.tight_layout()
        rows = [(k, f"{m[k]:.3f}") for k in ("accuracy", "precision", "recall", "f1")]
        rows += [
            ("flagged", f"{m['tp'] + m['fp']} ({m['tp']} right, {m['fp']} false alarms)"),
            ("missed " + positive, str(m["fn"])),
        ]
        return fig, Summary(rows, title=f"threshold {threshold:.2f}")

    controls = {
        "threshold": widgets.FloatSlider(
            value=0.5, min=0.01, max=0.99, step=0.01, description="threshold", continuous_update=False
        ),
    }
    return Explorer(controls, render, title="Decision threshold")


# ---------------------------------------------------------------- 07 speed


def devices():
    """The devices this machine can train on, CPU first."""
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append("mps")
    return out


def measure_throughput(X, y, batch_size, device="cpu", seconds=0.3, hidden=(128, 128), seed=0, repeats=3):
    """Training samples per second of an MLP at one batch size, measured now: forward, backward and an
    Adam step on random batches for about ``seconds`` in all, after one warm-up step, timed in
    ``repeats`` slices; the fastest slice counts (as ``timeit`` does: other work on a busy machine only
    ever slows a slice down).  Returns ``(samples per second, seconds per step)``."""
    import torch

    torch.manual_seed(seed)
    layers, d = [], X.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(d, h), torch.nn.ReLU()]
        d = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(d, int(y.max()) + 1)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.int64, device=device)
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def one():
        idx = torch.randint(0, len(Xt), (batch_size,), generator=gen).to(device)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
        opt.step()

    one()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    best = math.inf
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            one()
            n += 1
            if n % 2 == 0:
                sync()
                if time.perf_counter() - t0 >= seconds / repeats:
                    break
        best = min(best, (time.perf_counter() - t0) / n)
    return batch_size / best, best


def throughput_explorer(X, y, batch_sizes=(16, 32, 64, 128, 256, 512, 1024), seconds=0.3):
    """Batch size and device: training throughput measured live; the chart starts with one quick pass
    over every batch size on the CPU, and each new measurement replaces its point."""
    measured = {("cpu", b): measure_throughput(X, y, b, "cpu", seconds / 3)[0] for b in batch_sizes}

    def render(batch_size, device):
        rate, per_step = measure_throughput(X, y, batch_size, device, seconds)
        measured[device, batch_size] = rate
        fig = Figure(figsize=(6.5, 3.4))
        ax = fig.subplots()
        for dev in dict.fromkeys(d for d, _ in measured):
            pts = sorted((b, r) for (d, b), r in measured.items() if d == dev)
            ax.plot([b for b, _ in pts], [r / 1000 for _, r in pts], "o-", label=dev)
        ax.plot([batch_size], [rate / 1000], "o", ms=14, mfc="none", mec="k", label="just measured")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(batch_sizes), [str(b) for b in batch_sizes])
        ax.set_xlabel("batch size (samples per step)")
        ax.set_ylabel("throughput (thousand samples/s)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
        ax.set_title("MLP(128, 128) training steps, measured now")
        fig.tight_layout()
        rows = [("throughput", f"{rate:.0f} samples/s"), ("one training step", f"{per_step * 1000:.2f} ms")]
        return fig, Summary(rows, title=f"batch size {batch_size} on {device}")

    controls = {
        "batch_size": widgets.SelectionSlider(options=list(batch_sizes), value=64, description="batch size"),
        "device": widgets.Dropdown(options=devices(), value="cpu", description="device"),
    }
    return Explorer(controls, render, title="Speed: batch size and device")
