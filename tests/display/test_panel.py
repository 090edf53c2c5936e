"""The progress panel: widget state (no front end), throttling with an injected clock, final states."""

import numpy as np
import pytest

import nbtrain

W = pytest.importorskip("ipywidgets")
from nbtrain.display.panel import HINT_INTERRUPT, PanelView  # noqa: E402


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype("int64")
    return X, y


class Clock:
    """A clock that advances by ``step`` seconds at every read."""

    def __init__(self, step=0.0):
        self.t, self.step = 0.0, step

    def __call__(self):
        self.t += self.step
        return self.t


def _train(view, epochs=3, batch_size=16, callbacks=(), **kw):
    return nbtrain.train(
        _data(),
        model="mlp(8)",
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[*callbacks, view],
        display="none",
        **kw,
    )


def test_panel_is_a_callback_built_once_with_stable_text_twin():
    view = PanelView(display=False)
    assert isinstance(view, nbtrain.Callback)
    children = view.widget.children
    run = _train(view)
    assert view.widget.children is children  # built once: values change, widgets do not
    assert repr(view.widget) == f"nbtrain panel: {run.name}"
    bundle = view.widget._repr_mimebundle_()
    assert bundle["text/plain"] == f"nbtrain panel: {run.name}"
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_completed_state_in_widget_state():
    view = PanelView(display=False)
    run = _train(view, epochs=3)
    assert run.status == "completed"
    ep = view.epoch_bar.get_state()
    assert (ep["value"], ep["max"], ep["bar_style"]) == (3, 3, "success")
    assert view.epoch_text.get_state()["value"] == "3/3"
    b = view.batch_bar.get_state()
    assert b["value"] == b["max"] == run.live.num_batches == 5
    status = view.status.get_state()["value"]
    assert "completed: 3 epochs" in status and "best val_loss" in status
    btn = view.stop_button.get_state()
    assert btn["disabled"] is True and btn["description"] == "Done"
    title = view.title.get_state()["value"]
    assert run.name in title and "mlp(8)" in title and "cpu" in title


def test_status_line_shows_epoch_loss_rate_eta_device():
    seen = []

    class Peek(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if epoch == 2 and batch == 3:
                seen.append(view.status.value)

    view = PanelView(display=False, min_interval=0.0, clock=Clock(0.01))
    _train(view, epochs=3, callbacks=[Peek()])
    # Peek runs before the view: the status drawn at epoch 2, batch 2
    line = seen[0]
    assert line.startswith("epoch 2/3")
    assert "loss " in line and "val_loss " in line and " it/s" in line and "ETA 80 ms" in line and "cpu" in line


def test_redraws_are_throttled_by_the_clock_not_per_batch():
    # 0.01 s per clock read (one read per batch): 3 epochs x 6 batches = 18 batches in 0.18 s
    fast = PanelView(display=False, min_interval=0.05, clock=Clock(0.01))
    _train(fast, epochs=3)
    slow = PanelView(display=False, min_interval=10.0, clock=Clock(0.01))
    _train(slow, epochs=3)
    n_batches = 3 * 5  # 120 rows -> 72 train rows / 16 = 5 batches
    assert slow.draws == 1  # only the first batch: the interval never elapses
    assert 2 < fast.draws < n_batches  # about every fifth batch


def test_stop_button_stops_at_next_batch_and_keeps_epochs():
    view = PanelView(display=False)

    class ClickAt(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if epoch == 3 and batch == 2:
                view.stop_button.click()
                self.at = (epoch, batch)

    clicker = ClickAt()
    run = _train(view, epochs=10, callbacks=[clicker])
    assert run.status == "stopped" and run.note == "Stop button"
    assert len(run.history) == 2 and run.history["epoch"] == [1.0, 2.0]
    assert view.stop_clicked_at is not None
    assert view.epoch_bar.get_state()["bar_style"] == "warning"
    status = view.status.get_state()["value"]
    assert "stopped at epoch 3 &middot; Stop button &middot; 2 finished epochs kept" in status
    assert view.stop_button.get_state()["description"] == "Stopped"
    assert view.batch_text.get_state()["value"] == "2/5"  # the batch it stopped after
    # the model still predicts
    assert run.predict(_data()[0][:5]).shape == (5,)


def test_click_after_the_run_does_nothing():
    view = PanelView(display=False)
    run = _train(view, epochs=1)
    view.stop_button.click()
    assert run.status == "completed" and not run.stop_requested


def test_keyboard_interrupt_ends_stopped():
    view = PanelView(display=False)

    class Interrupt(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if epoch == 2 and batch == 1:
                raise KeyboardInterrupt

    run = _train(view, epochs=5, callbacks=[Interrupt()])
    assert run.status == "stopped" and len(run.history) == 1
    assert "interrupted (KeyboardInterrupt)" in view.status.value


def test_failure_is_red_with_reason():
    view = PanelView(display=False)

    class Boom(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kw):
            if epoch == 2:
                raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        _train(view, epochs=4, callbacks=[Boom()])
    status = view.status.get_state()["value"]
    assert "color:#c62828" in status and "failed" in status and "RuntimeError: disk full" in status
    assert view.epoch_bar.get_state()["bar_style"] == "danger"
    assert view.stop_button.get_state()["description"] == "Failed"


def test_nan_failure_shows_reason():
    view = PanelView(display=False)
    X, y = _data()
    y = y.astype("float32") * 1e30
    run = nbtrain.train((X, y), model="linear", optimizer="sgd", lr=1e10, epochs=3, callbacks=[view], display="none")
    assert run.status == "failed"
    status = view.status.value
    assert "color:#c62828" in status and ("NaN" in status or "infinite" in status)


def test_outside_a_kernel_the_panel_points_to_the_interrupt():
    seen = []

    class Peek(nbtrain.Callback):
        def on_epoch_start(self, run, epoch, **kw):
            seen.append(view.hint.value)

    view = PanelView(display=False)
    _train(view, epochs=1, callbacks=[Peek()])
    assert view.live.mode == "none"
    assert HINT_INTERRUPT in seen[0]


class _Handle:
    def __init__(self):
        self.updates = []

    def update(self, obj, **kw):
        self.updates.append((obj, kw))


def test_display_true_shows_the_widget_once_then_replaces_it_by_a_static_record(monkeypatch):
    import IPython.display

    shown, handle = [], _Handle()

    def display(obj, **kw):
        shown.append((obj, kw))
        return handle

    monkeypatch.setattr(IPython.display, "display", display)
    view = PanelView()
    run = _train(view, epochs=2)
    ((bundle, kw),) = shown  # shown once, through a display handle
    assert kw == {"raw": True, "display_id": True}
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.widget.model_id
    assert bundle["text/plain"] == f"nbtrain panel: {run.name} | training"
    ((record, kw),) = handle.updates  # replaced once, when the run ended
    assert kw == {"raw": True} and record is view.record and set(record) == {"text/plain", "text/html"}
    best = run.history.best_epoch()
    assert record["text/plain"].startswith(f"nbtrain panel: {run.name} | completed: 2/2 epochs in ")
    assert f"(epoch {best})" in record["text/plain"] and "best val_loss" in record["text/html"]
    # first and last version agree under the sanitize rules (what nbval compares)
    import re

    from nbtrain.display.panel import RECORD_SANITIZE

    def clean(text):
        for regex, replace in RECORD_SANITIZE:
            text = re.sub(regex, replace, text)
        return text

    for key in ("text/plain", "text/html"):
        assert clean(bundle[key]) == clean(record[key]) and "PANEL_RECORD" in clean(record[key])


def test_stopped_and_failed_records_say_why():
    view = PanelView(display=False)

    class Click(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if epoch == 2:
                view.stop_button.click()

    run = _train(view, epochs=5, callbacks=[Click()])
    line = view.record_line(run, run.status)
    assert line.startswith("stopped at epoch 2: 1/5 epochs in ") and line.endswith("Stop button")
    run.error = "RuntimeError: disk full"
    assert view.record_line(run, "failed").endswith("RuntimeError: disk full")
    assert "\u2718" in view.record_bundle(run, "failed")["text/html"]


def test_a_reused_view_starts_clean_for_the_next_run():
    view = PanelView(display=False)

    class ClickFirst(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if run.name == "a" and epoch == 2:
                view.stop_button.click()

    first = _train(view, epochs=3, callbacks=[ClickFirst()], name="a")
    assert first.status == "stopped"
    second = _train(view, epochs=2, name="b")
    assert second.status == "completed"
    assert view.stop_button.get_state()["description"] == "Done"
    assert view.epoch_bar.get_state()["bar_style"] == "success" and "b" in view.title.value
