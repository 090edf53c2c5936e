"""The loop's measured hints ("more DataLoader workers would help") reach the views that show a run:
the console prints one line, the panel shows it under the status and keeps it in its static record,
and no HintWarning is raised when a view has shown it."""

import io
import time
import warnings

import pytest
import torch

import nbtrain
from nbtrain.core.events import HintWarning
from nbtrain.display.console import ConsoleView

W = pytest.importorskip("ipywidgets")
from nbtrain.display.panel import PanelView  # noqa: E402


class SlowDataset(torch.utils.data.Dataset):
    """Every sample takes 4 ms to "decode": the step waits on data for most of the epoch."""

    def __init__(self, n=200):
        g = torch.Generator().manual_seed(0)
        self.X = torch.randn(n, 4, generator=g)
        self.y = (self.X[:, 0] > 0).long()
        self.targets = self.y.tolist()

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        time.sleep(0.004)
        return self.X[i], self.y[i]


def _train(view):
    with warnings.catch_warnings():
        warnings.simplefilter("error", HintWarning)  # shown by a view: never also a warning
        return nbtrain.train(SlowDataset(), model="mlp(4)", epochs=2, val=0, test=0, callbacks=[view], display="none")


def test_console_prints_the_hint_once():
    out = io.StringIO()
    run = _train(ConsoleView(out))
    lines = [ln for ln in out.getvalue().splitlines() if "hint:" in ln]
    assert len(run.hints) == 1 and len(lines) == 1
    assert lines[0] == f"[{run.name}] hint: {run.hints[0]}" and "workers=" in lines[0]


def test_panel_shows_the_hint_and_keeps_it_in_the_record():
    view = PanelView(display=False)
    run = _train(view)
    assert len(run.hints) == 1
    assert "hint:" in view.advice.value and "workers=" in view.advice.value
    assert f"hint: {run.hints[0]}" in view.record_line(run, run.status)
