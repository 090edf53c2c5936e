"""``train(..., processes=2)`` in a real IPython kernel (jupyter_client): interrupts of both kinds end
every rank, free the port and keep the finished epochs; a failing rank's message reaches the cell;
a relaunch works at once."""

import json
import os
import signal
import time

import pytest
from dist_helpers import RANK_ENV, alive, bindable, listening

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

SETUP = """
import json, numpy as np, torch, nbtrain
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 5)).astype(np.float32); y = (X @ rng.normal(size=(5, 3))).argmax(1)
class Mark(nbtrain.Callback):
    def on_epoch_end(self, run, epoch, logs, **kw):
        if epoch == 2:
            with open({mark!r} + ".tmp", "w") as f:
                json.dump(run._distributed, f)
            import os; os.replace({mark!r} + ".tmp", {mark!r})
def report(run):
    print("REPORT" + json.dumps(dict(status=run.status, epochs=len(run.history), note=run.note,
                                     dist=run._distributed, cols=run.history.keys())))
"""

LONG = (
    "run = nbtrain.train((X, y), model='mlp(8)', epochs=100000, batch_size=4, processes=2, display='none', "
    "callbacks=[Mark()])"
)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """One kernel for the module: both interrupt kinds and the relaunches happen in the same session."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    env = dict(os.environ, MPLBACKEND="Agg", **RANK_ENV)
    km.start_kernel(env=env, cwd=str(tmp_path_factory.mktemp("kernel")))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code, timeout=60.0, during=None):
    """Run a cell; return (reply content, stdout text, error content or None, display data bundles)."""
    msg_id = kc.execute(code)
    out, error, shown = [], None, []
    deadline = time.monotonic() + timeout
    done_during = during is None
    while True:
        if not done_during:
            done_during = during()
        left = deadline - time.monotonic()
        assert left > 0, f"cell did not finish in {timeout} s: {code[:80]!r}; output so far {''.join(out)[-500:]}"
        try:
            msg = kc.get_iopub_msg(timeout=min(0.2, left))
        except Exception:  # queue.Empty
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind == "error":
            error = content
        elif kind in ("display_data", "update_display_data", "execute_result"):
            shown.append(content["data"])
        elif kind == "status" and content["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=10)["content"]
    return reply, "".join(out), error, shown


def _report(kc, name="run"):
    _, out, err, _ = execute(kc, f"report({name})")
    assert err is None, err
    return json.loads(out.split("REPORT", 1)[1])


def _interrupt_after_two_epochs(km, kc, tmp_path, how):
    mark = str(tmp_path / f"mark-{how}.json")
    execute(kc, SETUP.format(mark=mark))
    kernel_pid = km.provisioner.process.pid

    def interrupt():
        if not os.path.exists(mark):
            return False
        if how == "group":
            km.interrupt_kernel()  # SIGINT to the kernel's process group, as Jupyter's interrupt does
        else:
            os.kill(kernel_pid, signal.SIGINT)  # only the kernel process, as some front ends do
        return True

    reply, out, err, _ = execute(kc, LONG, timeout=90, during=interrupt)
    assert err is None and reply["status"] == "ok", (err, out)
    info = json.load(open(mark))
    rep = _report(kc)
    assert rep["status"] == "stopped", rep
    assert "interrupted" in (rep["note"] or "")
    assert rep["epochs"] >= 2 and "val_loss" in rep["cols"]
    assert len(info["pids"]) == 2
    deadline = time.monotonic() + 10
    while any(alive(p) for p in info["pids"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in info["pids"]), "a rank outlived the interrupt"
    assert not listening(info["store_port"]) and bindable(info["store_port"])
    return info


@pytest.mark.parametrize("how", ["group", "kernel-only"])
def test_interrupt_ends_every_rank_keeps_epochs_and_relaunch_works(kernel, tmp_path, how):
    km, kc = kernel
    _interrupt_after_two_epochs(km, kc, tmp_path, how)
    # relaunch at once, in the same kernel, with the notebook views (plot, table, panel) fed by rank 0
    reply, out, err, shown = execute(kc, "run2 = nbtrain.train((X, y), epochs=2, processes=2, display='notebook')")
    assert err is None, err
    assert any("image/png" in d for d in shown), [list(d) for d in shown]
    assert any("val_loss" in d.get("text/html", "") for d in shown)
    rep = _report(kc, "run2")
    assert rep["status"] == "completed" and rep["epochs"] == 2
    if how == "group":
        # a failing rank: its own message in the kernel's error, no ranks left
        code = """
class Fails(torch.nn.Module):
    def __init__(self):
        super().__init__(); self.lin = torch.nn.Linear(5, 3)
    def forward(self, x):
        import torch.distributed as dist
        if self.training and dist.get_rank() == 1:
            raise KeyError("feature 'age' missing on rank 1")
        return self.lin(x)
bad = nbtrain.train((X, y), model=Fails(), epochs=2, processes=2, display='none', name='bad')
"""
        reply, out, err, _ = execute(kc, code)
        assert err is not None and err["ename"] == "RankError"
        assert "rank 1 failed: KeyError" in err["evalue"] and "feature 'age' missing on rank 1" in err["evalue"]
        assert any("Traceback from rank 1" in line for line in err["traceback"])
        _, out, _, _ = execute(kc, "print('REPORT' + json.dumps(nbtrain.runs['bad']._distributed))")
        pids = json.loads(out.split("REPORT", 1)[1])["pids"]
        assert not any(alive(p) for p in pids)
        _, _, err, _ = execute(kc, "import shutil; shutil.rmtree(nbtrain.runs['bad'].config['rank_files'])")
        assert err is None, err
    assert not [p for p in _children(km.provisioner.process.pid)], "ranks left under the kernel"


def _children(pid):
    from dist_helpers import children

    return children(pid)
