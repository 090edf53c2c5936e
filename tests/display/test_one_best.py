"""One "best" (issue 23, item 4): the Run's repr, ``%runs``' row, the metric table, the panel record
and the console name the same epoch and value; when the model holds other weights than the best
epoch's, they say so and how to keep the best; ``restore_best=True`` keeps them."""

import html
import io
import re

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.core.history import resolve_best
from nbtrain.display.base import RecordingSink
from nbtrain.display.console import ConsoleView
from nbtrain.display.panel import PanelView
from nbtrain.display.table import TableView


def _noisy(n=240, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype("float32")
    y = ((X[:, 0] + 0.8 * rng.normal(size=n)) > 0).astype("int64")
    return X, y


ARGS = dict(model="mlp(64, 64)", lr=0.01, epochs=12, display="none", seed=0)  # overfits: the best is early


def test_every_view_names_the_same_best_epoch_and_value_and_says_the_weights_are_the_last():
    panel, table = PanelView(display=False), TableView(sink=RecordingSink())
    console = ConsoleView(stream=io.StringIO(), tty=False)
    run = nbtrain.train(_noisy(), **ARGS, callbacks=[panel, table, console])
    rows = list(run.history)
    best = resolve_best(rows, "val_loss")  # the independent rule, computed here from the rows
    assert best.epoch != len(rows)  # the case of the issue: the best epoch is not the last
    acc = next(r for r in rows if r["epoch"] == best.epoch)["val_accuracy"]
    last_acc = rows[-1]["val_accuracy"]
    assert f"best epoch {best.epoch}: val_accuracy={acc:.4g}" in repr(run)
    assert f"{last_acc:.4g}" not in repr(run) or last_acc == acc
    assert run.summary()["best"] == f"val_accuracy={acc:.4g} (epoch {best.epoch})"
    assert run.best()["epoch"] == best.epoch
    assert table.table.best == best.epoch
    assert f"best val_loss {best.value:.4g} (epoch {best.epoch})" in panel.status.value
    note = f"the model holds epoch {len(rows)}'s weights, not the best epoch's ({best.epoch})"
    for text in (html.unescape(panel.status.value), repr(table.table), console.stream.getvalue()):
        assert note in text and "--patience" in text and "restore_best=True" in text


def test_restore_best_keeps_the_best_epochs_weights_without_stopping_early():
    run = nbtrain.train(_noisy(), **ARGS, restore_best=True)
    rows = list(run.history)
    best = resolve_best(rows, "val_loss")
    assert len(rows) == ARGS["epochs"] and run.status == "completed" and run.best_epoch == best.epoch
    # the same seeded run stopped at the best epoch holds the same weights
    short = nbtrain.train(_noisy(), **dict(ARGS, epochs=best.epoch))
    for a, b in zip(run.model.state_dict().values(), short.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    assert "holds epoch" not in repr(nbtrain.display.table.MetricTable.from_run(run))
    assert run.config["restore_best"] is True


def test_restore_best_must_be_a_bool():
    with pytest.raises(nbtrain.NbtrainError, match="restore_best must be True or False"):
        nbtrain.train(_noisy(), **ARGS, restore_best="yes")


def test_the_magic_takes_restore_best(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbtrain")
    ip.user_ns["XY"] = _noisy()
    result = ip.run_cell("%%train --epochs 4 --restore-best --name rb --quiet\ndata = XY\nmodel = 'mlp(8)'\n")
    result.raise_error()
    run = nbtrain.runs["rb"]
    assert run.config["restore_best"] is True and run.best_epoch == resolve_best(list(run.history)).epoch
    assert re.search(r"best epoch \d+: val_accuracy=", repr(run))
