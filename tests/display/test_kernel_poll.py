"""The Stop button mid-cell, in a real ipykernel driven by jupyter_client (no browser).

The client queues cells, clicks Stop by sending the button's comm message while the training cell
is busy, and checks that the run stopped within a second, kept its epochs, and that the cells
queued behind it ran afterwards, in order.  Both delivery modes are covered: a private kernel
subshell, and reading the main shell's queue between batches (with in-order replay).
"""

import os
import queue
import time

import pytest

pytest.importorskip("ipykernel")
jc_manager = pytest.importorskip("jupyter_client.manager")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SETUP = """
import time, numpy as np, torch, nbtrain
torch.set_num_threads(1)     # steady batch times on a busy 2-core machine
from nbtrain.display.panel import PanelView
rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 8)).astype("float32"); y = (X[:, 0] > 0).astype("int64")
nbtrain.train((X[:200], y[:200]), epochs=1, display="none")   # warm the imports up
order = []

class Mark(nbtrain.Callback):
    stopped_at = None
    def on_epoch_end(self, run, epoch, logs, **kw):
        if epoch == 1:
            print("TRAINING", flush=True)
    def on_interrupt(self, run, reason, **kw):
        Mark.stopped_at = time.monotonic()
"""

TRAIN = """
view = PanelView(comm_mode={mode!r})
print("BUTTON", view.stop_button.model_id, flush=True)
mark = Mark()
run = nbtrain.train((X, y), model="mlp(32)", epochs=100000, batch_size=16, callbacks=[view, mark], display="none")
lat = None if view.stop_clicked_at is None else round(Mark.stopped_at - view.stop_clicked_at, 3)
print("RESULT", run.status, "|", run.note, "|", len(run.history), "|", view.live.mode, "|", lat, flush=True)
"""


class Kernel:
    def __init__(self):
        env = dict(os.environ, MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
        env.pop("NBTRAIN_COMM_MODE", None)
        self.km, self.kc = jc_manager.start_new_kernel(kernel_name="python3", startup_timeout=90, env=env)
        self.outputs = []  # (msg_id, text) of stream output, in arrival order

    def execute(self, code):
        return self.kc.execute(code, store_history=False)

    def wait_for(self, pred, timeout):
        """Read iopub until ``pred(msg)`` is true; return the arrival time."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = self.kc.get_iopub_msg(timeout=min(1.0, max(0.01, end - time.monotonic())))
            except queue.Empty:
                continue
            now = time.monotonic()
            if msg["msg_type"] == "stream":
                self.outputs.append((msg["parent_header"].get("msg_id"), msg["content"]["text"]))
            if msg["msg_type"] == "error":
                self.outputs.append((msg["parent_header"].get("msg_id"), "ERROR " + msg["content"]["evalue"]))
            if pred(msg):
                return now
        raise AssertionError(f"timed out; outputs so far: {self.outputs[-10:]}")

    def wait_idle(self, msg_id, timeout=60):
        return self.wait_for(
            lambda m: (
                m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"
                and m["parent_header"].get("msg_id") == msg_id
            ),
            timeout,
        )

    def text_of(self, msg_id):
        return "".join(t for mid, t in self.outputs if mid == msg_id)

    def click(self, model_id):
        msg = self.kc.session.msg(
            "comm_msg", {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}}
        )
        self.kc.shell_channel.send(msg)

    def close(self):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    try:
        mid = k.execute(SETUP)
        k.wait_idle(mid, timeout=120)
        assert "ERROR" not in k.text_of(mid), k.outputs
        yield k
    finally:
        k.close()


def _start_training(kernel, mode):
    kernel.outputs.clear()
    train = kernel.execute(TRAIN.format(mode=mode))
    early = kernel.execute("order.append('early')")  # queued before the cell starts training
    kernel.wait_for(lambda m: m["msg_type"] == "stream" and "TRAINING" in m["content"]["text"], 60)
    text = kernel.text_of(train)
    model_id = text.split("BUTTON", 1)[1].split()[0]
    # queued while the cell is busy: in "queue" mode these are held back and replayed
    late = [kernel.execute(f"order.append({i})") for i in range(2)]
    return train, early, late, model_id


@pytest.mark.parametrize("mode", ["subshell", "queue"])
def test_stop_button_mid_cell_keeps_run_and_cell_order(kernel, mode):
    train, early, late, model_id = _start_training(kernel, mode)
    time.sleep(0.5)
    sent = time.monotonic()
    kernel.click(model_id)
    got = kernel.wait_for(lambda m: m["msg_type"] == "stream" and "RESULT" in m["content"]["text"], 30)
    assert got - sent < 1.0, f"the run took {got - sent:.2f} s to stop after the click"
    kernel.wait_idle(late[-1])
    result = kernel.text_of(train).split("RESULT", 1)[1].split("|")
    status, note, epochs, used, latency = (s.strip() for s in result)
    assert (status, note, used) == ("stopped", "Stop button", mode)
    assert int(epochs) >= 1
    assert float(latency) < 1.0
    # every queued cell ran once, after the training cell, in order
    check = kernel.execute("print('ORDER', order, flush=True); order.clear()")
    kernel.wait_idle(check)
    assert "ORDER ['early', 0, 1]" in kernel.text_of(check)
    ran = [mid for mid, _ in kernel.outputs]
    assert ran.index(train) < ran.index(check)


def test_interrupt_mid_cell_while_polling_the_queue(kernel):
    train, early, late, model_id = _start_training(kernel, "queue")
    time.sleep(0.5)
    sent = time.monotonic()
    kernel.km.interrupt_kernel()
    got = kernel.wait_for(lambda m: m["msg_type"] == "stream" and "RESULT" in m["content"]["text"], 30)
    assert got - sent < 1.0
    kernel.wait_idle(late[-1])
    status, note, epochs, used, latency = (s.strip() for s in kernel.text_of(train).split("RESULT", 1)[1].split("|"))
    assert (status, note) == ("stopped", "interrupted (KeyboardInterrupt)")
    assert int(epochs) >= 1
    check = kernel.execute("print('ORDER', order, flush=True); order.clear()")
    kernel.wait_idle(check)
    assert "ORDER ['early', 0, 1]" in kernel.text_of(check)


def test_without_delivery_the_click_waits_for_the_cell_and_changes_nothing(kernel):
    """mode "none": the click is handled after the cell; the run was not stopped by it."""
    kernel.outputs.clear()
    code = TRAIN.format(mode="none").replace("epochs=100000", "epochs=3").replace("(X, y)", "(X[:500], y[:500])")
    train = kernel.execute(code)
    kernel.wait_for(lambda m: m["msg_type"] == "stream" and "TRAINING" in m["content"]["text"], 60)
    model_id = kernel.text_of(train).split("BUTTON", 1)[1].split()[0]
    kernel.click(model_id)
    kernel.wait_idle(train)
    status, note, epochs, used, _ = (s.strip() for s in kernel.text_of(train).split("RESULT", 1)[1].split("|"))
    assert (status, epochs, used) == ("completed", "3", "none")
    # the click was delivered after the cell, and changed nothing
    check = kernel.execute(
        "print('LATE', view.stop_clicked_at is not None, run.status, run.stop_requested, flush=True)"
    )
    kernel.wait_idle(check)
    assert "LATE True completed False" in kernel.text_of(check)


# ---------------------------------------------------------------- without a real kernel (fast)


def test_outside_a_kernel_nothing_is_touched():
    from nbtrain.display.kernel_poll import LiveComms

    W = pytest.importorskip("ipywidgets")
    live = LiveComms([W.Button()])
    assert live.start() == "none" and "not running in a Jupyter kernel" in live.reason
    assert live.poll(force=True) == 0
    live.close()
    assert live.closed and live.held == []


def test_unknown_kernel_internals_fall_back_to_none_with_a_reason():
    from nbtrain.display.kernel_poll import LiveComms

    class FakeComm:
        comm_id = "abc"

    class FakeKernel:  # a kernel without subshells, comm routing or a shell stream
        session = object()
        shell_channel_thread = None
        shell_stream = None

    live = LiveComms([FakeComm()], kernel=FakeKernel())
    assert live.start() == "none"
    assert "shell stream" in live.reason
    for mode in ("subshell", "queue"):
        forced = LiveComms([FakeComm()], kernel=FakeKernel(), mode=mode)
        assert forced.start() == "none"


class _FakeQueueKernel:
    """Just enough of an ipykernel 6-style kernel for queue mode: a shell stream whose socket holds
    raw messages as (msg_type, content) pairs."""

    def __init__(self, raws, on_recv=None):
        import zmq

        kernel = self

        class Socket:
            def getsockopt(self, opt):
                return zmq.POLLIN if raws else 0

            def recv_multipart(self, flags=0, copy=True):
                if not raws:
                    raise zmq.Again()
                raw = raws.pop(0)
                if on_recv:
                    on_recv(raw)
                return raw

        class Stream:
            socket = Socket()
            io_loop = None
            _recv_copy = False

            def _recv_callback(self, raw):
                kernel.replayed.append(raw)

            def _run_callback(self, cb, raw):
                cb(raw)

        class Session:
            def feed_identities(self, raw, copy=True):
                return [], raw

            def deserialize(self, frames, content=True, copy=True):
                return {"header": {"msg_type": frames[0]}, "content": frames[1], "buffers": []}

            def unpack(self, c):
                return c

        class Comms:
            def get_comm(self, comm_id):
                return kernel.comm if comm_id == kernel.comm.comm_id else None

        class Comm:
            comm_id = "c1"

            def handle_msg(self, msg):
                kernel.handled.append(msg)

        self.session, self.comm_manager, self.comm = Session(), Comms(), Comm()
        self.shell_channel_thread, self.shell_stream = None, Stream()
        self.handled, self.replayed = [], []


def test_queue_mode_handles_ours_now_and_replays_the_rest_in_order():
    from nbtrain.display.kernel_poll import LiveComms

    raws = [
        ("execute_request", {"code": "a"}),
        ("comm_msg", {"comm_id": "c1"}),
        ("comm_msg", {"comm_id": "other"}),
        ("execute_request", {"code": "b"}),
    ]
    k = _FakeQueueKernel(list(raws))
    live = LiveComms([k.comm], kernel=k, mode="queue", clock=lambda: 0.0)
    assert live.start() == "queue"
    assert live.poll() == 1 and len(k.handled) == 1
    assert live.poll() == 0  # throttled: the clock has not moved
    assert k.replayed == []  # nothing handed back while the cell runs
    live.close()
    assert k.replayed == [raws[0], raws[2], raws[3]]  # the rest, in arrival order
    live.close()
    assert len(k.replayed) == 3  # closing twice replays nothing twice


def test_an_interrupt_during_the_drain_loses_no_message():
    import signal

    from nbtrain.display.kernel_poll import LiveComms

    raws = [("execute_request", {"code": "a"}), ("comm_msg", {"comm_id": "c1"}), ("execute_request", {"code": "b"})]
    sent = []

    def interrupt_once(raw):
        if not sent:
            sent.append(raw)
            signal.raise_signal(signal.SIGINT)  # arrives in the middle of reading the queue

    k = _FakeQueueKernel(list(raws), on_recv=interrupt_once)
    live = LiveComms([k.comm], kernel=k, mode="queue")
    live.start()
    with pytest.raises(KeyboardInterrupt):
        live.poll(force=True)
    assert len(k.handled) == 1  # the click was still handled
    assert live.held == [raws[0], raws[2]]  # and nothing read was dropped
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    live.close()
    assert k.replayed == [raws[0], raws[2]]
