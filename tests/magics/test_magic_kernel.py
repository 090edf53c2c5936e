"""The magics in a real ipykernel (jupyter_client): what a front end receives, error forms,
the registry after errors, and a kernel interrupt while %%train runs."""

import os
import queue
import re
import time

import pytest

jc_manager = pytest.importorskip("jupyter_client.manager")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

IRIS = "from sklearn.datasets import load_iris\ndata = load_iris(return_X_y=True)\n"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Kernel:
    def __init__(self):
        env = dict(
            os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline", PYDEVD_DISABLE_FILE_VALIDATION="1"
        )
        self.km, self.kc = jc_manager.start_new_kernel(kernel_name="python3", startup_timeout=90, env=env)

    def execute(self, code, timeout=60, on_output=None):
        """Run a cell; return (reply status, outputs) where outputs are (msg_type, content)."""
        msg_id = self.kc.execute(code)
        outputs, end = [], time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"cell timed out; outputs so far: {outputs[-5:]}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append((kind, content))
                if on_output is not None:
                    on_output(kind, content)
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:  # e.g. a kernel_info reply left over
            reply = self.kc.get_shell_msg(timeout=timeout)
        return reply["content"]["status"], outputs

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    try:
        status, _ = k.execute(
            "import torch, nbtrain\ntorch.set_num_threads(1)\n%load_ext nbtrain\nsentinel = 42", timeout=120
        )
        assert status == "ok"
        yield k
    finally:
        k.close()


def _results(outputs, kind):
    return [c["data"] for k, c in outputs if k == kind]


def test_train_evaluate_runs_compare_mime_types(kernel):
    status, out = kernel.execute("%%train --epochs 3 --name k1\n" + IRIS + "preprocess = 'standardize'")
    assert status == "ok" and not [c for k, c in out if k == "error"]
    assert not [c for k, c in out if k == "stream" and c["name"] == "stderr"]  # no warnings
    (result,) = _results(out, "execute_result")
    pattern = r"Run\('k1', completed, 3/3 epochs, best epoch \d: val_accuracy=[0-9.]+\)"
    assert re.fullmatch(pattern, result["text/plain"])
    status, out = kernel.execute("%evaluate k1 --plot confusion,roc")
    shown = _results(out, "display_data")
    assert status == "ok" and [sorted(d) for d in shown] == [
        ["text/html", "text/plain"],
        ["image/png", "text/plain"],
        ["image/png", "text/plain"],
    ]
    assert shown[0]["text/plain"].startswith("k1 on the test split\nmetric     value\naccuracy ")
    assert not _results(out, "execute_result")  # shown once, not again as Out[n]
    status, out = kernel.execute("%runs")
    (table,) = _results(out, "execute_result")
    assert sorted(table) == ["text/html", "text/plain"] and "k1" in table["text/plain"]
    status, out = kernel.execute("%%train --epochs 2 --name k2 --quiet --lr 0.1\n" + IRIS)
    assert status == "ok" and [k for k, _ in out] == ["execute_result"]  # --quiet: nothing but the Run
    status, out = kernel.execute("%compare k1 k2")
    assert [sorted(d) for d in _results(out, "display_data")] == [
        ["image/png", "text/plain"],
        ["text/html", "text/plain"],
    ]
    status, out = kernel.execute("r = _\nprint(type(r).__name__, type(model).__module__.split('.')[0])")
    assert out == [("stream", {"name": "stdout", "text": "CompareResult torch\n"})]


def test_error_forms_and_registry_after_errors(kernel):
    status, out = kernel.execute("%%train --epochz 3 --name bad\n" + IRIS)
    assert status == "error" and len(out) == 1
    kind, content = out[0]
    assert kind == "stream" and content["name"] == "stderr"
    assert content["text"].startswith(
        "UsageError: %%train: unrecognized arguments: --epochz 3 (did you mean --epochs?)"
    )
    assert content["text"].count("\n") == 1  # one line, no traceback
    status, out = kernel.execute("%%train --name bad\n" + IRIS + "model = 'mlp(8, dropout=2)'")
    assert status == "error" and [k for k, _ in out] == ["stream"] and "dropout" in out[0][1]["text"]
    status, out = kernel.execute("%%train --name bad\nsentinel2 = 1\n" + IRIS + "undefined_name + 1")
    assert status == "error"
    (err,) = [c for k, c in out if k == "error"]
    tb = ANSI.sub("", "\n".join(err["traceback"]))
    assert err["ename"] == "NameError" and "----> 4 undefined_name + 1" in tb and "nbtrain/" not in tb
    status, out = kernel.execute("print(sorted(nbtrain.runs), sentinel, sentinel2, nbtrain.runs['k1'].status)")
    assert out[0][1]["text"] == "['k1', 'k2'] 42 1 completed\n"


def test_interrupt_during_train_stops_the_run_and_kernel_goes_on(kernel):
    cell = (
        "%%train --epochs 100000 --batch-size 16 --name long\nimport numpy as np\n"
        "rng = np.random.default_rng(0)\nX = rng.normal(size=(4000, 8)).astype('float32')\n"
        "data = (X, (X[:, 0] > 0).astype('int64'))\nmodel = 'mlp(32)'\n"
        "class Mark(nbtrain.Callback):\n    def on_epoch_end(self, run, epoch, logs, **kw):\n"
        "        if epoch == 2:\n            print('TRAINING', flush=True)\ncallbacks = [Mark()]\n"
    )
    sent = []

    def interrupt_once_training(kind, content):
        if kind == "stream" and "TRAINING" in content.get("text", "") and not sent:
            sent.append(time.monotonic())
            kernel.km.interrupt_kernel()

    t0 = time.monotonic()
    status, out = kernel.execute(cell, timeout=90, on_output=interrupt_once_training)
    assert sent, "training never started"
    assert time.monotonic() - sent[0] < 15
    assert status == "ok"
    (result,) = _results(out, "execute_result")
    assert result["text/plain"].startswith("Run('long', stopped, ")
    status, out = kernel.execute(
        "r = nbtrain.runs['long']\nprint(r.status, r.note, len(r.history) >= 1, model is r.model, 1 + 1)"
    )
    assert status == "ok" and out[-1][1]["text"] == "stopped interrupted (KeyboardInterrupt) True True 2\n"
    status, out = kernel.execute("%%train --epochs 1 --name after --quiet\n" + IRIS)
    assert status == "ok" and _results(out, "execute_result")[0]["text/plain"].startswith("Run('after', completed")
    assert time.monotonic() - t0 < 100
