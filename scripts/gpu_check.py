"""The one prepared GPU check: every GPU promise of nbtrain measured in one run, written as one JSON.

    python scripts/gpu_check.py                  # on a CUDA machine (< 5 min on one H200): $OUT/gpu_check.json
    python scripts/gpu_check.py --device cpu     # the same checks on the CPU, small sizes: checks the script
    python scripts/gpu_check.py --only syncs,speed

Checks (each prints one PASS/FAIL/SKIP line; the exit status is 0 only if none failed):
  placement  the run, its data and its optimizer state on the GPU
  parity     CPU vs CUDA on a seeded MLP: losses and weights within 1e-4
  syncs      host syncs per step (torch.cuda.set_sync_debug_mode) for fp32, bf16, fp16 x adam and sgd,
             clip, accumulate and the DDP path: they must not grow with the number of batches
  speed      steps/s against a hand-written CUDA loop (>= 0.9x), also with the console view
  bf16       bf16 against fp32 on a large MLP (>= 1.5x), its activations asserted bf16; TF32 alongside
  fp16       fp16 + GradScaler trains, with a finite scale
  compile    graph counts with a ragged last batch; resume across compile settings
  memory     peak memory with patience (no device copy of the weights) and over three runs (no growth)
  oom        a real CUDA out-of-memory error: the run fails, the memory comes back, the GPU trains again
  dataset    a torch Dataset through the DataLoader path (pinned, non-blocking copies)
  nccl       DDP with one nccl rank against a single process
The whole script runs under a watchdog (NBTRAIN_GPU_WATCHDOG, default 290 s; 1200 s on a CPU).  tests/gpu/ runs
the same checks under pytest.  Figures: README.md, "GPU figures".
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")  # spawned ranks import this nbtrain

import gpu_check_parts as parts  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from gpu_check_parts import Context, classification, mlp, train  # noqa: E402
from torch import nn  # noqa: E402

import nbtrain  # noqa: E402


class _DataDevice(nbtrain.Callback):
    """Where the training rows are while the run trains (a finished run moves them back to the host)."""

    def on_fit_start(self, run, **kw):
        b = run._splits["train"]
        self.device = b.X.device.type if hasattr(b, "X") else "loader"


def check_placement(ctx: Context) -> dict:
    seen = _DataDevice()
    data = classification(2000, 16)
    run = train(ctx, data, model="mlp(32)", epochs=2, device="auto" if ctx.cuda else "cpu", callbacks=[seen])
    on = {"run": run.device.type, "data": seen.device, "weights": next(run.model.parameters()).device.type}
    want = "cuda" if ctx.cuda else "cpu"
    after = run._splits["train"].X.device.type  # a finished run keeps no device copy of the data
    # data_device="cpu": rows stay on the host, each batch is gathered into pinned memory and copied
    host = train(ctx, data, model="mlp(32)", epochs=2, device=run.device, data_device="cpu")
    same = np.allclose(host.history["train_loss"], run.history["train_loss"], rtol=1e-5)
    ok = run.status == "completed" and set(on.values()) <= {want, "loader"} and after == "cpu" and same
    return {"passed": bool(ok), **on, "data_after_run": after, "host_data_same_losses": bool(same)}


def check_parity(ctx: Context) -> dict:
    if not ctx.cuda:
        return {"skipped": "CPU against itself"}
    data = classification(3000, 32)
    kw = dict(model="mlp(64, 64)", optimizer="adam", lr=0.01, epochs=3, batch_size=64)
    a, b = train(ctx, data, device="cpu", **kw), train(ctx, data, device=ctx.device, **kw)
    dw = max(
        float((p.cpu() - q.detach().cpu()).abs().max()) for p, q in zip(a.model.parameters(), b.model.parameters())
    )
    dl = max(abs(u - v) for u, v in zip(a.history["train_loss"], b.history["train_loss"]))
    return {"passed": dw < 1e-4 and dl < 1e-4, "max_weight_diff": dw, "max_loss_diff": dl}


def check_fp16(ctx: Context) -> dict:
    run = train(ctx, classification(4000, 16), model="mlp(64)", epochs=4, lr=0.01, amp="fp16", device=ctx.device)
    scale = float(run._precision.scaler.get_scale())
    acc = run.evaluate()["accuracy"]
    return {"passed": run.status == "completed" and acc > 0.85 and np.isfinite(scale), "accuracy": acc, "scale": scale}


def check_dataset(ctx: Context) -> dict:
    """A host Dataset (pinned, non-blocking copies) with and without DataLoader workers, and a Dataset
    whose tensors already live on the GPU (no pinning, no workers)."""
    X, y = classification(4000, 16)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    t = time.perf_counter()
    run = train(ctx, ds, model="mlp(64)", epochs=3, lr=0.01, batch_size=128, device=ctx.device)
    acc = run.evaluate()["accuracy"]
    on = next(run.model.parameters()).device.type
    workers = train(ctx, ds, model="mlp(64)", epochs=3, lr=0.01, batch_size=128, device=ctx.device, workers=2)
    same = np.allclose(workers.history["train_loss"], run.history["train_loss"], rtol=1e-5)
    dev = torch.utils.data.TensorDataset(torch.from_numpy(X).to(ctx.device), torch.from_numpy(y).to(ctx.device))
    resident = train(ctx, dev, model="mlp(64)", epochs=3, lr=0.01, batch_size=128, device=ctx.device)
    ok = run.status == "completed" and acc > 0.85 and on == ctx.device.type and same
    ok = ok and resident.status == "completed" and resident.evaluate()["accuracy"] > 0.85
    return {"passed": bool(ok), "accuracy": acc, "weights_on": on, "workers_same_losses": bool(same),
            "device_resident_status": resident.status, "wall_s": time.perf_counter() - t}  # fmt: skip


def check_nccl(ctx: Context) -> dict:
    from nbtrain.distributed.launcher import train_processes

    data = classification(3000, 32)
    kw = dict(model="mlp(64)", optimizer="sgd(momentum=0.9)", lr=0.05, epochs=2, batch_size=77)
    one = train(ctx, data, device=ctx.device, **kw)
    t = time.perf_counter()
    backend = "nccl" if ctx.cuda else "gloo"
    many = train_processes(
        dict(data=data, device=ctx.device.type, **kw),
        processes=1,
        backend=backend,
        start="spawn" if ctx.cuda else "fork",
    )
    wall = time.perf_counter() - t
    sa, sb = one.model.state_dict(), many.model.state_dict()
    dw = max(float((sa[k].float().cpu() - sb[k].float().cpu()).abs().max()) for k in sa)
    return {
        "passed": many.status == "completed" and dw < 1e-5,
        "backend": backend,
        "max_weight_diff": dw,
        "wall_s": wall,
    }


def check_memory(ctx) -> dict:
    if not ctx.cuda:
        return {"skipped": "CUDA allocator statistics only"}
    X, y = classification(20000, 512, k=10)
    weights = sum(p.numel() * 4 for p in mlp(512, 2048, 3).parameters())

    def peak(**kw):
        gc.collect()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(ctx.device)
        torch.cuda.reset_peak_memory_stats(ctx.device)
        torch.manual_seed(0)
        run = train(ctx, (X, y), model=mlp(512, 2048, 3).to(ctx.device), epochs=4, batch_size=256, **kw)
        top = torch.cuda.max_memory_allocated(ctx.device) - base
        del run
        gc.collect()
        torch.cuda.empty_cache()
        return top, torch.cuda.memory_allocated(ctx.device) - base

    plain, _ = peak()
    patient, _ = peak(patience=2)
    runs = [peak(patience=2) for _ in range(3)]
    extra = patient - plain
    left = max(r[1] for r in runs)
    grow = max(r[0] for r in runs) - min(r[0] for r in runs)
    ok = extra < 0.1 * weights and left < 0.05 * weights and grow < 0.05 * weights
    mib = 2**20
    return {"passed": bool(ok), "weights_mib": weights / mib, "peak_mib": plain / mib,
            "patience_extra_mib": extra / mib, "left_after_run_mib": left / mib,
            "peak_spread_3_runs_mib": grow / mib}  # fmt: skip


class _Hog(nn.Module):
    """Holds ~4 GiB in its failing step, then asks for 4 TiB: a real CUDA out-of-memory error."""

    def __init__(self, at):
        super().__init__()
        self.lin, self.at, self.calls = nn.Linear(16, 5), at, 0

    def forward(self, x):
        out = self.lin(x)
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                big = torch.ones(2**30, device=x.device, requires_grad=True) * 2
                out = out + big[:1].sum()
                torch.empty(4 * 2**40, dtype=torch.uint8, device=x.device)
        return out


def check_oom(ctx) -> dict:
    if not ctx.cuda:
        return {"skipped": "a real CUDA out-of-memory error"}
    gc.collect()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(ctx.device)
    run = train(ctx, classification(200, 16), model=_Hog(at=12), epochs=3, batch_size=16)
    gc.collect()
    left = torch.cuda.memory_allocated(ctx.device) - base
    again = train(ctx, classification(200, 16), model="mlp(16)", epochs=1, batch_size=8)
    ok = run.status == "failed" and "out of memory" in (run.error or "") and left < 256 * 2**20
    return {"passed": ok and again.status == "completed", "error": run.error, "left_mib": left / 2**20}


CHECKS = {
    "placement": check_placement,
    "parity": check_parity,
    "syncs": parts.check_syncs,
    "speed": parts.check_speed,
    "bf16": parts.check_bf16,
    "fp16": check_fp16,
    "compile": parts.check_compile,
    "memory": check_memory,
    "oom": check_oom,
    "dataset": check_dataset,
    "nccl": check_nccl,
}


def write_report(out: str, info: dict, results: dict, t0: float, done: bool) -> list:
    """The one JSON, rewritten after every check: a watchdog exit still leaves the figures measured so far."""
    failed = [n for n, r in results.items() if "skipped" not in r and not r.get("passed")]
    report = {**info, "total_s": round(time.perf_counter() - t0, 1), "complete": done, "failed": failed}
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({**report, "checks": results}, f, indent=1, default=str)
    os.replace(tmp, out)
    return failed


def run_checks(ctx: Context, names, report=lambda results: None) -> dict:
    results = {}
    for name in names:
        t = time.perf_counter()
        try:
            res = CHECKS[name](ctx)
        except Exception as exc:  # a check that crashes is a failed check, with its traceback in the JSON
            res = {"passed": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        res["seconds"] = round(time.perf_counter() - t, 2)
        results[name] = res
        mark = "SKIP" if "skipped" in res else ("PASS" if res.get("passed") else "FAIL")
        shown = {k: v for k, v in res.items() if k not in ("traceback", "passed")}
        print(f"{mark} {name}: {json.dumps(shown, default=str)[:600]}", flush=True)
        report(results)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (the default) or cpu (small sizes: checks the script)")
    ap.add_argument("--only", default=None, help="comma-separated checks, e.g. syncs,speed")
    ap.add_argument("--out", default=None, help="the JSON file (default: $OUT/gpu_check.json or ./gpu_check.json)")
    args = ap.parse_args(argv)
    watchdog = os.environ.get("NBTRAIN_GPU_WATCHDOG", 290 if args.device.startswith("cuda") else 1200)
    faulthandler.dump_traceback_later(float(watchdog), exit=True)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("SKIP: no CUDA GPU here (use --device cpu to check the script on the CPU)")
        return 2
    out = os.path.abspath(args.out or os.path.join(os.environ.get("OUT") or ".", "gpu_check.json"))
    os.chdir(ROOT)  # spawned ranks run `python -m nbtrain.worker` from here
    ctx = Context(torch.device(args.device))
    names = args.only.split(",") if args.only else list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        ap.error(f"unknown check(s) {', '.join(unknown)}; the checks are {', '.join(CHECKS)}")
    info = {"torch": torch.__version__, "nbtrain": getattr(nbtrain, "__version__", "?"), "device": ctx.describe()}
    print(json.dumps(info), flush=True)
    t0 = time.perf_counter()
    results = run_checks(ctx, names, lambda res: write_report(out, info, res, t0, done=False))
    failed = write_report(out, info, results, t0, done=True)
    took = round(time.perf_counter() - t0, 1)
    print(("OK" if not failed else f"FAILED: {', '.join(failed)}"), f"in {took} s -> {out}", flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # never hang in teardown (process groups, CUDA contexts)
