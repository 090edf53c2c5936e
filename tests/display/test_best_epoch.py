"""One best epoch everywhere: the panel, the metric table, the plot and the console name the same one
(``core/history.py: resolve_best``), also when the monitor is not val_loss."""

import io

import numpy as np

import nbtrain
from nbtrain.core.history import resolve_best
from nbtrain.display.base import RecordingSink
from nbtrain.display.console import ConsoleView
from nbtrain.display.panel import PanelView
from nbtrain.display.plot import LivePlot
from nbtrain.display.table import TableView


def _noisy(n=240, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype("float32")
    y = ((X[:, 0] + 0.8 * rng.normal(size=n)) > 0).astype("int64")  # noisy labels: accuracy and loss disagree
    return X, y


def test_panel_table_plot_and_console_name_the_same_best_epoch_with_monitor_val_accuracy():
    panel, plot, table = PanelView(display=False), LivePlot(sink=RecordingSink()), TableView(sink=RecordingSink())
    console = ConsoleView(stream=io.StringIO(), tty=False)
    run = nbtrain.train(
        _noisy(),
        model="mlp(32)",
        lr=0.01,
        epochs=12,
        monitor="val_accuracy",
        display="none",
        seed=0,
        callbacks=[panel, plot, table, console],
    )
    rows = list(run.history)
    best = resolve_best(rows, "val_accuracy")
    by_loss = resolve_best(rows, "val_loss")
    assert best.monitor == "val_accuracy" and best.epoch != by_loss.epoch  # the case the panel got wrong
    assert f"best val_accuracy {best.value:.4g} (epoch {best.epoch})" in panel.status.value
    assert table.table.best == best.epoch and f"* best epoch {best.epoch} (val_accuracy)" in repr(table.table)
    assert plot.best == best.epoch
    assert f"best epoch {best.epoch} (val_accuracy " in console.stream.getvalue()


def test_the_kept_epoch_wins_and_a_missing_monitor_falls_back():
    rows = [{"epoch": 1.0, "val_loss": 0.5, "val_accuracy": 0.9}, {"epoch": 2.0, "val_loss": 0.4, "val_accuracy": 0.7}]
    assert resolve_best(rows, "val_accuracy", kept=2).epoch == 2
    assert resolve_best(rows, "val_f1") == resolve_best(rows) == (2, "val_loss", 0.4)
    assert resolve_best(rows, "val_loss", mode="max").epoch == 1
    assert resolve_best([], "val_loss") is None
