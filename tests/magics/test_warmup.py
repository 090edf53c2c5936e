"""``%load_ext nbtrain`` warms the first run: once the loading cell ends, a background thread imports
scikit-learn's splitting and torch's optimizer machinery; the next cell (and every ``nbtrain.train``)
waits for it, so no user code ever imports beside it; it prints nothing; ``import nbtrain`` stays cheap."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HEAVY = ("sklearn.model_selection", "torch._dynamo")


def fresh(code: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_import_nbtrain_starts_nothing():
    out = fresh(
        f"""
        import sys, threading, nbtrain
        print([m for m in {HEAVY!r} if m in sys.modules], [t.name for t in threading.enumerate()])
        """
    ).stdout
    assert out.strip() == "[] ['MainThread']"


def test_warmup_runs_after_the_loading_cell_and_the_next_cell_waits():
    proc = fresh(
        f"""
        import sys, threading
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()

        def warming():
            return [t.name for t in threading.enumerate() if t.name == "nbtrain-warmup" and t.is_alive()]

        ip.user_ns["warming"] = warming

        # the loading cell goes on importing the same packages: the warm-up has not started yet
        r = ip.run_cell("%load_ext nbtrain\\nduring = warming()\\nimport sklearn.datasets")
        assert r.success, r.error_in_exec
        print("DURING", ip.user_ns["during"])
        print("STARTED", warming() != [] or all(m in sys.modules for m in {HEAVY!r}))
        # the next cell starts only when the warm-up is over
        r = ip.run_cell("import sys\\nnext_cell = (warming(), [m for m in {HEAVY!r} if m in sys.modules])")
        assert r.success, r.error_in_exec
        print("NEXT", ip.user_ns["next_cell"])
        ip.run_line_magic("unload_ext", "nbtrain")
        print("LEFT", [c.__name__ for e in ("pre_run_cell", "post_run_cell") for c in ip.events.callbacks[e]
                       if c.__module__.startswith("nbtrain")])
        """
    )
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.split(" ")[0].isupper())
    assert lines["DURING"] == "[]"
    assert lines["STARTED"] == "True"
    assert lines["NEXT"] == f"([], {list(HEAVY)!r})"
    assert lines["LEFT"] == "[]"
    assert proc.stderr == ""  # nothing on stderr: nbval compares it


def test_train_waits_for_the_warmup(monkeypatch):
    import nbtrain
    from nbtrain.core import warmup

    calls = []
    monkeypatch.setattr(warmup, "wait", lambda timeout=120.0: calls.append(timeout))
    nbtrain.train(([[0.0], [1.0]] * 10, [0, 1] * 10), epochs=1, display="none")
    assert calls == [120.0]


def test_first_train_in_a_kernel_after_a_pause_prints_nothing_on_stderr():
    from test_magic_kernel import Kernel

    k = Kernel()
    try:
        cells = [
            "import torch\ntorch.set_num_threads(1)\n%load_ext nbtrain",
            "import time\ntime.sleep(2)",  # the user typing
            "%%train --epochs 1 --name w --quiet\nfrom sklearn.datasets import load_iris\n"
            "data = load_iris(return_X_y=True)\nprint('trained')",
        ]
        ids = [k.kc.execute(c) for c in cells]
        streams, idle = [], set()
        while ids[-1] not in idle:  # every message of every cell, the warm-up thread's included
            msg = k.kc.get_iopub_msg(timeout=120)
            parent = msg["parent_header"].get("msg_id")
            if msg["msg_type"] == "stream":
                streams.append(msg["content"])
            if msg["msg_type"] == "error":
                raise AssertionError(msg["content"]["evalue"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle.add(parent)
        assert [s["text"] for s in streams if s["name"] == "stdout"] == ["trained\n"]
        assert [s["text"] for s in streams if s["name"] == "stderr"] == []
    finally:
        k.close()
