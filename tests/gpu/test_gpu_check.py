"""scripts/gpu_check.py's assertions under pytest: every check on the GPU (skipped without CUDA; CI
has none), and the script itself on the CPU (its --device cpu mode), so it is known to run before a
GPU is lent."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "gpu_check.py")


def _script():
    spec = importlib.util.spec_from_file_location("nbtrain_gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECKS = list(_script().CHECKS)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", CHECKS)
def test_gpu_check(name):
    gpu_check = _script()
    result = gpu_check.CHECKS[name](gpu_check.Context(torch.device("cuda")))
    print(name, json.dumps(result, default=str))
    if "skipped" in result:
        pytest.skip(result["skipped"])
    assert result["passed"], result


@pytest.mark.slow
def test_the_script_runs_on_the_cpu_and_writes_one_json(tmp_path):
    out = tmp_path / "gpu_check.json"
    quick = "placement,parity,syncs,fp16,compile,memory,dataset,nccl"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--device", "cpu", "--only", quick, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["complete"] and report["failed"] == [] and list(report["checks"]) == quick.split(",")
    syncs = report["checks"]["syncs"]
    assert syncs["passed"] and {"fp16 sgd", "bf16 adam", "ddp", "accumulate"} <= set(syncs)
    assert report["checks"]["parity"]["skipped"] and report["checks"]["memory"]["skipped"]
