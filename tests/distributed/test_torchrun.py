"""Two torchrun "nodes" (two agents, c10d rendezvous on 127.0.0.1) run an exported run; the notebook
side attaches and gets rank 0's history and weights, equal to one process."""

import os
import signal
import socket
import subprocess
import sys

import pytest
from dist_helpers import RANK_ENV, alive, classification, max_weight_diff

import nbtrain
import nbtrain.distributed as ndist

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def _free_port() -> int:
    # torchrun's rendezvous endpoint must be known to both agents before either starts
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _agent(path, port, log, run_id):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--nproc-per-node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        "--local-addr=127.0.0.1",
        f"--rdzv-id={run_id}",
        "--max-restarts=0",
        "-m",
        "nbtrain.worker",
        path,
    ]
    return subprocess.Popen(
        cmd,
        env=dict(os.environ, **RANK_ENV),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_two_torchrun_nodes_match_one_process(tmp_path):
    X, y = classification(n=70)
    kw = dict(model="mlp(8)", optimizer="sgd(momentum=0.9)", lr=0.1, epochs=3, batch_size=8, metrics="accuracy")
    one = nbtrain.train((X, y), display="none", name="one", **kw)
    path = ndist.export(tmp_path / "run.nbtrain", (X, y), processes=2, device="cpu", **kw)
    epochs_seen = []

    class Seen(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **k):
            epochs_seen.append(epoch)

    agents = []
    try:
        with open(tmp_path / "agents.log", "wb") as log:
            port = _free_port()
            agents = [_agent(path, port, log, "nbtrain-test") for _ in range(2)]
            run = nbtrain.attach(path, display="none", callbacks=[Seen()], timeout=100, watch=agents)
            codes = [a.wait(30) for a in agents]
    finally:
        for a in agents:
            if a.poll() is None:
                os.killpg(a.pid, signal.SIGKILL)
                a.wait(10)
    assert codes == [0, 0], (tmp_path / "agents.log").read_text()[-3000:]
    assert run.status == "completed", run.error
    assert epochs_seen == [1, 2, 3]  # rank 0's numbers streamed to the callbacks
    assert max_weight_diff(one.model, run.model) < 1e-5
    assert [round(v, 5) for v in run.history["val_loss"]] == [round(v, 5) for v in one.history["val_loss"]]
    assert nbtrain.runs["run"] is run
    assert run.evaluate()["accuracy"] == one.evaluate()["accuracy"]
    assert not any(alive(a.pid) for a in agents)


def test_attach_reports_a_missing_result_within_its_timeout(tmp_path):
    X, y = classification(n=30)
    path = ndist.export(tmp_path / "idle.nbtrain", (X, y), epochs=1)
    with pytest.raises(ndist.RankError, match="no result from rank 0"):
        nbtrain.attach(path, display="none", timeout=0.3)
    assert nbtrain.runs["idle"].status == "failed"


def test_a_file_that_is_not_a_run_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.nbtrain"
    import pickle

    bad.write_bytes(pickle.dumps({"hello": 1}))
    with pytest.raises(nbtrain.NbtrainError, match="not an nbtrain run file"):
        nbtrain.attach(bad, display="none", timeout=1)
