"""What a sweep shows: the notebook view through a recording sink (the live leaderboard and the trial
slot start and end empty, the report comes as new outputs), the console lines, the finder's plot."""

import base64
import io

import pytest

import nbtrain
from nbtrain.display.base import RecordingSink
from nbtrain.display.tune import ConsoleSweepView, LRSuggestion, NotebookSweepView, leaderboard

pytest.importorskip("optuna")
pytestmark = pytest.mark.usefixtures("one_thread")


def _sweep(data, view, callbacks=(), **kw):
    from nbtrain.core.tune.study import storage_for
    from nbtrain.core.tune.sweep import preflight, run_sweep

    kwargs = dict(data=data, preprocess="standardize", epochs=2, model=nbtrain.choice(["mlp(16)", "mlp(32)"]),
                  lr=nbtrain.loguniform(1e-3, 1e-1), callbacks=list(callbacks))  # fmt: skip
    spaces, metric, direction = preflight(kwargs, trials=3, metric="val_accuracy", sampler="tpe")
    return run_sweep(nbtrain.train, kwargs, spaces, name="v", trials=3, metric=metric, direction=direction,
                     backend=storage_for(None), observer=view, **kw)  # fmt: skip


def _png_size(bundle):
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))).size


def test_notebook_view_starts_and_ends_empty_and_shows_the_report(small_digits):
    sink = RecordingSink()
    s = _sweep(small_digits, NotebookSweepView(sink, panel=False, min_interval=0.0))
    shows = [(hid, b) for kind, hid, b in sink.calls if kind == "show"]
    assert shows[0] == ("h1", {}) and shows[1] == ("h2", {})  # leaderboard and trial slot: empty at first
    updates = [b for kind, hid, b in sink.calls if kind == "update" and hid == "h1"]
    assert any("text/html" in b and "<table" in b["text/html"] for b in updates)  # live leaderboard
    assert updates[-1] == {}
    slot = [b for kind, hid, b in sink.calls if kind == "update" and hid == "h2"]
    assert slot[-1] == {} and any("image/png" in b for b in slot)  # the trials' plots took turns in the slot
    final = sink.final_outputs()
    assert final[0] == {} and final[1] == {}
    table = final[2]
    assert table["text/plain"].startswith("sweep v: completed; best trial") and "<table" in table["text/html"]
    assert f"val_accuracy={s.best_value:.4g}" in table["text/plain"]
    figures = final[3:]
    assert [f["text/plain"] for f in figures] == [
        "<Figure: optimisation history of v>",
        "<Figure: parameter importances of v>",
    ]
    assert all(_png_size(f)[0] > 200 for f in figures)


def test_console_view_prints_a_line_per_trial_and_the_report(small_digits):
    lines = []
    s = _sweep(small_digits, ConsoleSweepView(write=lines.append))
    assert lines[0] == "sweep v: tpe sampler, maximize val_accuracy"
    trial_lines = [ln for ln in lines if ln.startswith("  trial ")]
    assert len(trial_lines) == 3 and all("completed: val_accuracy" in ln for ln in trial_lines)
    assert lines[-1].startswith("sweep v: completed; best trial") and "importances:" in lines[-1]
    assert str(s.best.number) in lines[-1].splitlines()[0]


def test_leaderboard_marks_the_best_trial(small_digits):
    s = _sweep(small_digits, None)
    t = leaderboard(s)
    assert t.columns[:3] == ["trial", "model", "lr"] and "val_accuracy" in t.columns
    best_row = t.rows[t.highlight]
    assert best_row["trial"] == s.best.number and best_row["status"] == "completed"
    assert "* best trial (maximize val_accuracy)" in t.to_text()


def test_lr_suggestion_is_a_float_that_shows_its_plot(small_digits, tmp_path):
    lr = nbtrain.lr_find(small_digits, model="mlp(32)", preprocess="standardize", steps=50)
    assert isinstance(lr, float) and isinstance(lr, LRSuggestion)
    bundle = lr._repr_mimebundle_()
    assert bundle["text/plain"].startswith(f"lr_find: suggested lr {float(lr):.3g}")
    assert _png_size(bundle)[0] > 300
    assert lr._repr_mimebundle_(include={"text/plain"}) == {"text/plain": bundle["text/plain"]}
    (tmp_path / "lr_find.png").write_bytes(base64.b64decode(bundle["image/png"]))


class ClickStop(nbtrain.Callback):
    """Clicks the sweep panel's Stop button: during trial 1 (at its 2nd batch), or after trial 0 ended."""

    def __init__(self, view, when):
        self.view, self.when = view, when

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        if self.when == "during" and run.name == "v/1" and batch == 2:
            self.view.panel._on_stop()

    def on_fit_end(self, run, status, **kw):
        if self.when == "between" and run.name == "v/0":
            self.view.panel._on_stop()


@pytest.mark.parametrize("when, expected", [("during", ["completed", "stopped"]), ("between", ["completed"])])
def test_the_sweep_panel_stop_button_ends_the_sweep(small_digits, when, expected):
    view = NotebookSweepView(RecordingSink(), plot=False)
    s = _sweep(small_digits, view, callbacks=[ClickStop(view, when)])
    assert s.status == "stopped" and [r.status for r in s.rows()] == expected
    assert view.panel.button.description == "Stopped" and view.panel.button.disabled
    assert repr(view.panel.widget) == "nbtrain sweep panel: v"
