"""Front-end detection (``nbtrain.display.env``) and the views each front end gets (``views_for``).

Detection reads ``sys.modules``, the kernel's namespace and the environment only: these tests fake
each front end's sign (Colab's ``google.colab`` module, VS Code's ``__vsc_ipynb_file__``, Voilà's
``VOILA_*`` variables, a running marimo) in a real in-process IPython kernel shell.
"""

from __future__ import annotations

import base64
import sys
import time
import types

import pytest

import nbtrain
from nbtrain.display import HINT_VSCODE, views_for
from nbtrain.display.env import front_end, host, in_marimo, shell_kind
from nbtrain.display.marimo import MarimoSink, bundle_html


class _ZMQShell:
    """Stands in for ipykernel's shell: detection looks at the class name and ``user_ns`` only."""

    def __init__(self, user_ns=None):
        self.user_ns = user_ns or {}


_ZMQShell.__name__ = "ZMQInteractiveShell"


@pytest.fixture
def kernel_shell(monkeypatch):
    import IPython

    shell = _ZMQShell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    for var in ("VSCODE_PID", "JPY_SESSION_NAME", "VOILA_KERNEL_ID", "VOILA_SERVER_URL", "VOILA_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delitem(sys.modules, "marimo", raising=False)
    return shell


def test_jupyter_vscode_colab_voila_are_told_apart(kernel_shell, monkeypatch):
    assert (shell_kind(), front_end(), host()) == ("notebook", "notebook", "jupyter")
    kernel_shell.user_ns["__vsc_ipynb_file__"] = "/home/me/train.ipynb"
    assert host() == "vscode" and front_end() == "notebook"
    del kernel_shell.user_ns["__vsc_ipynb_file__"]
    # a JupyterLab started from VS Code's terminal inherits VSCODE_PID, but its kernels get JPY_SESSION_NAME
    monkeypatch.setenv("VSCODE_PID", "123")
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/train.ipynb")
    assert host() == "jupyter"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert host() == "vscode"
    monkeypatch.delenv("VSCODE_PID")
    monkeypatch.setenv("VOILA_KERNEL_ID", "k1")
    assert host() == "voila" and front_end() == "notebook"
    monkeypatch.delenv("VOILA_KERNEL_ID")
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert host() == "colab" and front_end() == "notebook"


def _fake_marimo(running: bool, calls: list):
    mo = types.ModuleType("marimo")
    mo.running_in_notebook = lambda: running
    mo.Html = lambda text: ("Html", text)
    mo.output = types.SimpleNamespace(
        append=lambda obj: calls.append(("append", obj)),
        replace_at_index=lambda obj, idx: calls.append(("replace", idx, obj)),
    )
    return mo


def test_marimo_is_detected_only_while_it_runs_a_cell(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    monkeypatch.setitem(sys.modules, "marimo", _fake_marimo(False, []))
    assert not in_marimo() and front_end() == "console" and host() == "script"  # `python app.py`
    monkeypatch.setitem(sys.modules, "marimo", _fake_marimo(True, []))
    assert in_marimo() and front_end() == "marimo" and host() == "marimo"
    broken = types.ModuleType("marimo")
    broken.running_in_notebook = lambda: 1 / 0
    monkeypatch.setitem(sys.modules, "marimo", broken)
    assert not in_marimo()


def test_marimo_gets_status_plot_and_table_views_and_renders_through_its_output_api(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    calls: list = []
    monkeypatch.setitem(sys.modules, "marimo", _fake_marimo(True, calls))
    X = [[0.0], [1.0]] * 40
    run = nbtrain.train((X, [0, 1] * 40), model="mlp(4)", epochs=3, batch_size=16, name="mo1")
    names = [type(v).__name__ for v in views_for("auto", run)]
    assert names == ["MarimoStatus", "LivePlot", "TableView"]
    assert [type(v).__name__ for v in views_for("notebook", run)] == names  # no IPython display in marimo
    assert [type(v).__name__ for v in views_for("auto", run, plot=False)] == ["MarimoStatus", "TableView"]
    # the run above drew through marimo's output API: status first, then the final plot and the table
    appended = [c[1][1] for c in calls if c[0] == "append"]
    assert 'class="nbtrain-status"' in appended[0] and "starting" in appended[0]
    assert any(a.startswith('<img src="data:image/png;base64,') for a in appended)
    assert 'class="nbtrain-table"' in appended[-1] and appended[-1].count("<tr") == 4  # header + 3 epochs
    status = [c[2][1] for c in calls if c[0] == "replace" and c[1] == 0]
    assert "[mo1] completed: 3/3 epochs" in status[-1]


def test_marimo_sink_appends_items_and_updates_them_in_place(monkeypatch):
    calls: list = []
    monkeypatch.setitem(sys.modules, "marimo", _fake_marimo(True, calls))
    sink = MarimoSink()
    monkeypatch.setattr(MarimoSink, "_length", staticmethod(lambda: 2))  # the cell already shows 2 items
    h = sink.show({"text/plain": "a", "text/html": "<b>a</b>"}, handle=True)
    assert h == 2 and calls == [("append", ("Html", "<b>a</b>"))]
    sink.update(h, {})
    assert calls[-1] == ("replace", 2, ("Html", ""))  # an empty bundle leaves an empty item: indices stay put
    assert sink.show({"text/plain": "b"}) is None and calls[-1] == ("append", ("Html", "<pre>b</pre>"))
    monkeypatch.delitem(sys.modules, "marimo")
    assert sink.show({"text/plain": "c"}, handle=True) is None  # not in marimo: nothing, no error


def test_bundle_html_prefers_html_then_svg_then_png_then_text():
    png = base64.b64encode(b"\x89PNG fake").decode()
    assert bundle_html({}) == ""
    assert bundle_html({"text/plain": "t", "text/html": "<i>h</i>", "image/png": png}) == "<i>h</i>"
    assert bundle_html({"image/svg+xml": "<svg></svg>", "image/png": png}) == "<svg></svg>"
    img = bundle_html({"image/png": png, "text/plain": "<plot & more>"})
    assert img.startswith(f'<img src="data:image/png;base64,{png}"') and 'alt="&lt;plot &amp; more&gt;"' in img
    assert bundle_html({"image/png": b"\x89PNG fake"}) == bundle_html({"image/png": png})
    assert bundle_html({"text/plain": "a < b"}) == "<pre>a &lt; b</pre>"


def test_vscode_panel_hint_names_vscode_interrupt(kernel_shell):
    pytest.importorskip("ipywidgets")
    kernel_shell.user_ns["__vsc_ipynb_file__"] = "/x.ipynb"
    run = nbtrain.Run("r", None, task="classification", config={"epochs": 1})
    views = views_for("notebook", run)
    names = [type(v).__name__ for v in views]
    assert names[:2] == ["PanelView", "_HostHint"]
    panel, hint = views[0], views[1]
    panel.live = types.SimpleNamespace(mode="subshell")
    hint.on_fit_start(run)
    assert HINT_VSCODE in panel.hint.value
    panel.hint.value, panel.live.mode = "kept", "none"  # no live clicks at all: the panel's own hint stays
    hint.on_fit_start(run)
    assert panel.hint.value == "kept"
    del kernel_shell.user_ns["__vsc_ipynb_file__"]
    assert "_HostHint" not in [type(v).__name__ for v in views_for("notebook", run)]


def test_live_area_holds_panel_live_plot_final_plot_and_table_as_widgets(monkeypatch):
    """The LiveArea's outputs are widget state (what Voilà draws while a cell runs), not display messages."""
    pytest.importorskip("ipywidgets")
    from nbtrain.display import LiveArea
    from nbtrain.display.plot import LivePlot

    # live frames even in this short run
    monkeypatch.setattr(LivePlot, "first_after", 0.0)
    monkeypatch.setattr(LivePlot, "first_cost", 0.0)
    monkeypatch.setattr(LivePlot, "min_interval", 0.1)
    monkeypatch.setattr(LivePlot, "budget", 1.0)
    monkeypatch.setattr(LivePlot, "sample_interval", 0.0)
    monkeypatch.setattr(LivePlot, "learned_cost", None)

    class Slow(nbtrain.Callback):  # a run long enough for live frames: 30 batches of >= 20 ms
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            time.sleep(0.02)

    area = LiveArea()
    assert repr(area) == "nbtrain live area" and area.box.children == ()
    X = [[0.0], [1.0]] * 40
    data = (X, [0, 1] * 40)
    run = nbtrain.train(data, model="mlp(4)", epochs=3, batch_size=8, display="none", callbacks=[area, Slow()])
    panel, final, table = area.box.children
    assert "nbtrain-panel" in panel._dom_classes and "completed: 3 epochs" in area.views[0].status.value
    plot = area.views[1]
    assert plot.frames >= 1  # the slot showed SVG frames, then became the final figure
    assert final.value.startswith('<img src="data:image/png;base64,')
    assert 'class="nbtrain-table"' in table.value and table.value.count("<tr") == 4
    first_panel = panel
    nbtrain.train((X, [0, 1] * 40), model="mlp(4)", epochs=1, batch_size=8, display="none", callbacks=[area])
    kids = area.box.children  # a new run starts afresh (this one too short for a live frame)
    assert kids[0] is not first_panel and "run2" in repr(kids[0]) and "nbtrain-table" in kids[-1].value
    assert run.status == "completed"
