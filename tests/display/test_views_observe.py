"""Views are observers: they get the loop's events and redraw from the run; the core imports none of them."""

import ast
import pathlib

from view_fakes import FakeRun, blobs

import nbtrain
from nbtrain.core.events import Callback
from nbtrain.display.base import RecordingSink
from nbtrain.display.notebook import notebook_views
from nbtrain.display.plot import LivePlot
from nbtrain.display.table import TableView

CORE = pathlib.Path(nbtrain.__file__).parent / "core"
# the events a Callback can hear (on_evaluate came with the loggers): views have no other public methods
HOOKS = {n for n in vars(Callback) if n.startswith("on_")}


def test_core_source_imports_no_view_or_ui_library():
    banned = ("nbtrain.display", "IPython", "ipywidgets", "matplotlib", "ipykernel")
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
                if node.level == 2:  # from ..display import x
                    names = ["nbtrain." + (node.module or "")]
            else:
                continue
            for n in names:
                assert not n.startswith(banned), f"{path.name} imports {n}"


class Recorder(Callback):
    """Records every event, like fastprogress's recording callback."""

    def __init__(self):
        self.events = []

    def on_fit_start(self, run, **kw):
        self.events.append(("on_fit_start", {}))

    def on_epoch_start(self, run, epoch, **kw):
        self.events.append(("on_epoch_start", {"epoch": epoch}))

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        self.events.append(("on_batch_end", {"epoch": epoch, "batch": batch, "num_batches": num_batches}))

    def on_epoch_end(self, run, epoch, logs, **kw):
        self.events.append(("on_epoch_end", {"epoch": epoch, "logs": dict(logs)}))

    def on_fit_end(self, run, status, **kw):
        self.events.append(("on_fit_end", {"status": status}))


def test_views_redraw_from_events_and_run_state_only():
    """Replaying the recorded events on a stand-in run gives the views' same final outputs:
    they need nothing from the loop but its events and the run's history."""
    sink = RecordingSink()
    rec = Recorder()
    run = nbtrain.train(
        blobs(),
        model="mlp(8)",
        epochs=3,
        batch_size=32,
        display="none",
        callbacks=[rec, *notebook_views(None, sink, panel=False)],
    )
    names = [e for e, _ in rec.events]
    assert names[0] == "on_fit_start" and names[-1] == "on_fit_end" and names.count("on_epoch_end") == 3

    fake, replay = FakeRun(epochs=3, metrics=run.config["metrics"]), RecordingSink()
    fake.config["monitor"] = run.config["monitor"]
    views = notebook_views(None, replay, panel=False)
    for name, kw in rec.events:
        if name == "on_fit_end":
            fake.status = kw["status"]
        for v in views:
            getattr(v, name)(fake, **kw)
        if name == "on_epoch_end":
            fake.history.append(kw["logs"])
    real, again = sink.final_outputs(), replay.final_outputs()
    assert len(real) == len(again) == 2
    assert real[1] == again[1]  # the metric table, exactly
    assert real[0]["text/plain"] == again[0]["text/plain"]  # the plot's text twin


def test_a_view_attached_late_shows_the_whole_history(tmp_path):
    run = nbtrain.train(blobs(), model="mlp(8)", epochs=4, batch_size=32, display="none")
    loaded = nbtrain.load(run.save(tmp_path / "r.nbtrain"))
    sink = RecordingSink()
    for v in (LivePlot(sink), TableView(sink)):
        v.on_fit_end(loaded, status=loaded.status)  # only the last event
    plot, table = sink.final_outputs()
    assert table["text/plain"].count("\n") == 1 + 4 + 1 and "image/png" in plot


def test_notebook_views_are_callbacks_in_display_order():
    sink = RecordingSink()
    views = notebook_views(FakeRun(), sink, panel=False)
    assert [type(v).__name__ for v in views] == ["LivePlot", "TableView"]
    views = notebook_views(FakeRun(), sink)
    names = [type(v).__name__ for v in views]
    assert names[-2:] == ["LivePlot", "TableView"] and names[:-2] in ([], ["PanelView"])
    for v in views:
        assert isinstance(v, Callback)
        public = {m for m in dir(type(v)) if m.startswith("on_")}
        assert public <= HOOKS, public - HOOKS  # they only listen to events
    assert notebook_views(FakeRun(), sink, panel=False, plot=False, table=False) == []


def test_views_for_no_plot_keeps_panel_and_table():
    """``%%train --no-plot`` / ``train(plot=False)``: the panel and table stay, the live plot goes."""
    import nbtrain
    from nbtrain.display import views_for
    from nbtrain.display.plot import LivePlot

    run = nbtrain.Run("x", None, task="classification", config={})
    kinds = [type(v).__name__ for v in views_for("notebook", run, plot=False)]
    assert "LivePlot" not in kinds and "TableView" in kinds and "PanelView" in kinds
    assert any(isinstance(v, LivePlot) for v in views_for("notebook", run))
