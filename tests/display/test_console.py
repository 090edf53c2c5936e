"""The text front end: progress line only on a TTY, an epoch table, a status line; no widget or image noise."""

import io
import os
import subprocess
import sys

from view_fakes import FakeRun, HandClock, blobs, drive

import nbtrain
from nbtrain.display import views_for
from nbtrain.display.console import ConsoleView
from nbtrain.display.env import front_end, shell_kind


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_pipe_gets_header_rows_and_status_but_no_progress_line():
    out = io.StringIO()
    clock = HandClock()
    drive([ConsoleView(out, clock=clock)], FakeRun(epochs=3), epochs=3, batches=10, clock=clock, dt=0.2)
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "[run1] mlp(8) | loss cross_entropy | adam lr=0.01 | 3 epochs, batch 16 | cpu"
    assert lines[1].split() == ["epoch", "train_loss", "val_loss", "val_accuracy", "lr", "time"]
    assert [ln.split()[0] for ln in lines[2:5]] == ["1", "2", "3"]
    assert lines[5].startswith("[run1] completed: 3/3 epochs in ") and "best epoch 3 (val_loss 0.525)" in lines[5]
    assert len(lines) == 6


def test_tty_progress_line_is_rewritten_in_place_and_throttled():
    out = Tty()
    clock = HandClock()
    view = ConsoleView(out, clock=clock, min_interval=0.5)
    drive([view], FakeRun(epochs=2), epochs=2, batches=50, clock=clock, dt=0.02)  # 2 s
    text = out.getvalue()
    frames = [seg for seg in text.split("\r") if seg.startswith("epoch ")]
    assert 3 <= len(frames) <= 5  # every 0.5 s after the first 0.5 s
    assert "it/s" in frames[0] and "ETA" in frames[0] and "[" in frames[0] and "loss " in frames[0]
    # printed rows start on a clean line: the progress line is blanked first
    lines = text.split("\n")
    row_lines = [ln for ln in lines if ln.rstrip().split("\r")[-1].strip().startswith(("1 ", "2 "))]
    assert len(row_lines) == 2
    assert text.endswith("\n") and "completed" in lines[-2]


def test_long_fast_runs_do_not_flood_logs():
    out = io.StringIO()
    clock = HandClock()
    drive(
        [ConsoleView(out, clock=clock, row_interval=2.0)],
        FakeRun(epochs=200),
        epochs=200,
        batches=1,
        clock=clock,
        dt=0.05,
    )  # 10 s, 200 epochs
    rows = [ln for ln in out.getvalue().splitlines()[2:] if not ln.startswith("[")]
    assert 5 <= len(rows) <= 8  # first, ~every 2 s, last
    assert rows[0].split()[0] == "1" and rows[-1].split()[0] == "200"


def test_stopped_and_failed_status_lines():
    out = io.StringIO()
    run = FakeRun(epochs=5)
    run.note = "stopped from the panel"
    drive([ConsoleView(out)], run, epochs=2, batches=1, status="stopped")
    assert out.getvalue().splitlines()[-1].startswith("[run1] stopped: 2/5 epochs in ")
    assert out.getvalue().rstrip().endswith("(stopped from the panel)")
    out = io.StringIO()
    run = FakeRun(epochs=5)
    run.error = "the training loss became NaN at epoch 1, step 3"
    drive([ConsoleView(out)], run, epochs=0, status="failed")
    lines = out.getvalue().splitlines()
    assert lines[-2] == "[run1] failed: 0/5 epochs in 0 ms" and lines[-1] == f"  error: {run.error}"


def test_script_front_end_prints_text_only(capsys, monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # other tests may have started a shell
    assert shell_kind() == "script" and front_end() == "console"
    run = nbtrain.train(blobs(), model="mlp(8)", epochs=2, batch_size=32, display="auto")
    text = capsys.readouterr().out
    assert text.count("\n") == 5 and text.startswith(f"[{run.name}] mlp(8)") and "completed: 2/2" in text
    assert [type(v).__name__ for v in views_for("console", run)] == ["ConsoleView"]
    assert views_for("none", run) == []
    nbtrain.train(blobs(), model="mlp(8)", epochs=1, batch_size=32, display="none")
    assert capsys.readouterr() == ("", "")  # display="none" shows nothing


def test_terminal_ipython_gets_the_text_views(tmp_path):
    """In terminal IPython: display="none" loads no view code at all; "auto" gives the text views
    (no widget or image libraries imported, no image or widget noise in the output)."""
    code = (
        "import sys, nbtrain, numpy as np\n"
        "X = np.random.default_rng(0).normal(size=(120, 4)).astype('float32'); y = (X[:, 0] > 0).astype('int64')\n"
        "nbtrain.train((X, y), model='mlp(8)', epochs=1, display='none', name='quiet')\n"
        "print('none loaded', [m for m in sys.modules if m.startswith('nbtrain.display')])\n"
        "from nbtrain.display.env import shell_kind\n"
        "print('kind', shell_kind())\n"
        "run = nbtrain.train((X, y), model='mlp(8)', epochs=2)\n"
        "print('ui', [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules])\n"
    )
    script = tmp_path / "t.ipy"
    script.write_text(code)
    env = dict(os.environ, IPYTHONDIR=str(tmp_path / "ipy"), MPLBACKEND="Agg")
    out = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["none loaded []", "kind terminal"]
    assert lines[2].startswith("[run1] mlp(8)") and lines[3].split()[0] == "epoch"
    assert lines[-2].startswith("[run1] completed: 2/2 epochs")
    assert lines[-1] == "ui []"
    assert len(lines) == 8
    noise = ("VBox", "Figure", "image/png", "<IPython", "Widget", "\r")
    assert not any(n in out.stdout for n in noise), out.stdout
