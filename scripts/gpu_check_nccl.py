"""GPU check for nbtrain.distributed: DDP ranks on CUDA (nccl) against one process on the same GPU.

Self-contained: run it from the repository root on a machine with CUDA, e.g. the lent H200:

    python scripts/gpu_check_nccl.py            # writes $OUT/gpu_check_nccl.json when $OUT is set

Checks (each prints one line; the exit status is 0 only if every one passed):
  1. processes=N on N GPUs with nccl (N = min(2, GPUs); N = 1 still runs DDP through nccl)
     ends "completed" with final weights within 1e-5 of one process on cuda:0, same global batches;
  2. with one GPU only: 2 ranks sharing it through gloo (nccl refuses two ranks on one GPU),
     same comparison;
  3. after either run no rank is alive and the kernel-side Run evaluates on its splits.
The whole script is under a watchdog (default 240 s): a hang prints every thread's stack and exits.
`--cpu` runs the same steps on the CPU with gloo (to check the script itself where no GPU is).
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.chdir(ROOT)  # the ranks run `python -m nbtrain.worker` from here
os.environ["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")
faulthandler.dump_traceback_later(float(os.environ.get("NBTRAIN_GPU_WATCHDOG", 240)), exit=True)


def main(argv) -> int:
    import numpy as np
    import torch

    cpu = "--cpu" in argv
    if not cpu and not torch.cuda.is_available():
        print("SKIP: no CUDA GPU here (use --cpu to check the script on the CPU)")
        return 2
    import nbtrain
    from nbtrain.distributed.launcher import train_processes

    if cpu:
        gpus, dev, rank_dev, backend = 1, "cpu", "cpu", "gloo"
        print(f"torch {torch.__version__}, CPU dry run", flush=True)
    else:
        gpus, dev, rank_dev, backend = torch.cuda.device_count(), "cuda:0", "cuda", "nccl"
        print(
            f"torch {torch.__version__}, {gpus} GPU(s): {torch.cuda.get_device_name(0)}, "
            f"nccl {'.'.join(map(str, torch.cuda.nccl.version()))}",
            flush=True,
        )
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 32)).astype(np.float32)
    y = (X @ rng.standard_normal((32, 5))).argmax(1)
    # 2400 training rows, batch 77: the last global batch has 13 rows, split 6 + 7 over two ranks
    kw = dict(model="mlp(64, 64)", optimizer="sgd(momentum=0.9)", lr=0.05, epochs=3, batch_size=77, metrics="accuracy")
    torch.backends.cuda.matmul.allow_tf32 = False  # the check compares float32 results
    results, ok = {}, True

    def compare(label, one, many):
        nonlocal ok
        sa, sb = one.model.state_dict(), many.model.state_dict()
        diff = max(float((sa[k].float().cpu() - sb[k].float().cpu()).abs().max()) for k in sa)
        alive = [
            p
            for p in many._distributed["pids"]
            if os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] not in "ZX"
        ]
        acc = many.evaluate().get("accuracy")
        passed = many.status == "completed" and diff < 1e-5 and not alive
        ok &= passed
        results[label] = dict(
            passed=passed,
            status=many.status,
            error=many.error,
            max_weight_diff=diff,
            ranks_alive=alive,
            test_accuracy=acc,
            epoch_s=many.history["time"],
            one_process_epoch_s=one.history["time"],
        )
        print(
            f"{'PASS' if passed else 'FAIL'} {label}: status={many.status} max|dW|={diff:.2e} "
            f"epoch s={[f'{t:.3f}' for t in many.history['time']]} (one process "
            f"{[f'{t:.3f}' for t in one.history['time']]}) accuracy={acc}",
            flush=True,
        )

    t0 = time.perf_counter()
    one = nbtrain.train((X, y), device=dev, display="none", name="one", **kw)
    n = min(2, gpus)
    try:
        t = time.perf_counter()
        many = train_processes(dict(data=(X, y), device=rank_dev, **kw), processes=n, backend=backend, start="spawn")
        results["nccl_wall_s"] = time.perf_counter() - t
        compare(f"{backend}, {n} rank(s) on {n} {'GPU(s)' if not cpu else 'CPU process(es)'}", one, many)
    except Exception as exc:
        ok = False
        results["nccl"] = f"{type(exc).__name__}: {exc}"
        print(f"FAIL nccl: {type(exc).__name__}: {exc}", flush=True)
    if gpus == 1:
        try:
            t = time.perf_counter()
            shared = train_processes(
                dict(data=(X, y), device=rank_dev, **kw), processes=2, backend="gloo", start="spawn"
            )
            results["gloo_shared_wall_s"] = time.perf_counter() - t
            compare("gloo, 2 ranks sharing " + dev, one, shared)
        except Exception as exc:
            ok = False
            results["gloo_shared"] = f"{type(exc).__name__}: {exc}"
            print(f"FAIL gloo shared: {type(exc).__name__}: {exc}", flush=True)
    results["total_s"] = time.perf_counter() - t0
    results["ok"] = ok
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "gpu_check_nccl.json"), "w") as f:
            json.dump(results, f, indent=1, default=str)
    print("OK" if ok else "FAILED", f"in {results['total_s']:.1f} s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
