"""Metric and generic tables: HTML and plain-text renderings, best epoch, stability, the final-table view."""

import re

from view_fakes import FakeRun, blobs, drive, row

import nbtrain
from nbtrain.display.base import RecordingSink
from nbtrain.display.table import (
    TIME_SANITIZE,
    MetricTable,
    Table,
    TableView,
    format_value,
    html_table,
    metric_columns,
    text_table,
)


def test_format_value():
    assert format_value(1.0, "epoch") == "1"
    assert format_value(0.123456) == "0.1235"
    assert format_value(123456.0) == "1.235e+05"
    assert format_value(float("nan")) == "-" and format_value(None) == "-"
    assert format_value(0.0312, "time") == "31 ms"  # one rule for durations (issue 23): 20 ms, 1.3 s, 2 min 5 s
    assert format_value(1234.5, "time") == "20 min 34 s" and format_value(2e-5, "time") == "0 ms"
    assert format_value(1.34, "time") == "1.3 s" and format_value(125, "time") == "2 min 5 s"
    assert format_value(3, "epoch") == "3" and format_value("adam") == "adam"
    assert format_value(1e-3, "lr") == "0.001"
    import numpy as np

    assert format_value(np.float32(0.5)) == "0.5"


def test_text_and_html_escape_and_mark_highlight():
    rows = [{"name": "<script>x</script>", "acc": 0.5}, {"name": "b&c", "acc": 0.75}]
    html = html_table(rows, highlight=1, title="t<1>")
    assert "<script>" not in html and "&lt;script&gt;" in html and "b&amp;c" in html
    assert "t&lt;1&gt;" in html
    assert html.count("<tr") == 3 and html.count("font-weight:bold;background") == 1
    text = text_table(rows, highlight=1)
    lines = text.splitlines()
    assert lines[0].split() == ["name", "acc"]
    assert lines[2].startswith("* b&c") and lines[1].startswith("  <script>")


def test_metric_table_columns_best_epoch_and_footer():
    rows = [row(1, 1.0, 0.9, 0.6), row(2, 0.8, 0.7, 0.7), row(3, 0.6, 0.8, 0.8)]
    rows[0]["val_f1"] = rows[1]["val_f1"] = rows[2]["val_f1"] = 0.5
    assert metric_columns(rows) == ["epoch", "train_loss", "val_loss", "val_accuracy", "val_f1", "lr", "time"]
    run = FakeRun(epochs=5, rows=rows)
    run.status = "stopped"
    t = MetricTable.from_run(run)
    assert t.best == 2 and t.highlight == 1  # lowest val_loss
    text = repr(t)
    assert text.splitlines()[0] == "run1: stopped, 3/5 epochs"
    # the model holds the last epoch's weights (no patience): the footer says so and how to keep the best
    assert text.splitlines()[-1] == (
        "* best epoch 2 (val_loss); the model holds epoch 3's weights, not the best epoch's (2); "
        "to keep the best, train with --patience N or --restore-best (restore_best=True)"
    )
    assert text.splitlines()[3].startswith("* 2")
    run.config["monitor"] = "val_accuracy"  # higher is better
    assert MetricTable.from_run(run).best == 3
    run.best_epoch = 1  # early stopping restored epoch 1: mark that
    assert MetricTable.from_run(run).best == 1
    html = t._repr_html_()
    assert html.count("<tr") == 4 and "<caption" in html and "best epoch 2" in html


def test_only_times_vary_and_the_sanitize_rule_covers_them():
    a = [row(1, time=0.0123), row(2, time=1.5), row(3, time=1234.5)]
    b = [row(1, time=0.25), row(2, time=12.0), row(3, time=3e-5)]
    ta, tb = MetricTable(a, best=2), MetricTable(b, best=2)
    assert repr(ta) != repr(tb)
    for x, y in ((repr(ta), repr(tb)), (ta._repr_html_(), tb._repr_html_())):
        assert re.sub(TIME_SANITIZE, "TIME", x) == re.sub(TIME_SANITIZE, "TIME", y)
    assert "12 ms" in repr(ta) and "20 min 34 s" in repr(ta)


def test_ipython_formats_html_and_text_twin():
    from IPython.core.formatters import DisplayFormatter

    t = Table.from_dict({"accuracy": 0.96667, "f1": 0.9}, key="metric")
    data, _ = DisplayFormatter().format(t)
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/plain"] == "metric    value\naccuracy  0.9667\nf1        0.9"
    assert '<td align="right">0.9667</td>' in data["text/html"]


def test_table_view_shows_one_final_table_and_nothing_for_no_epochs():
    sink = RecordingSink()
    view = TableView(sink)
    drive([view], FakeRun(epochs=3), epochs=3, batches=2)
    assert [(k, h) for k, h, _ in sink.calls] == [("show", None)]
    bundle = sink.calls[0][2]
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"].startswith("run1: completed, 3/3 epochs\n")
    assert len(bundle["text/plain"].splitlines()) == 1 + 1 + 3 + 1
    empty = RecordingSink()
    TableView(empty).on_fit_end(FakeRun(), status="failed")
    assert empty.calls == []


def test_table_from_a_real_run_matches_its_history():
    run = nbtrain.train(blobs(), model="mlp(8)", epochs=3, batch_size=32, display="none")
    t = MetricTable.from_run(run)
    assert len(t.rows) == 3 and t.best == run.history.best_epoch()
    lines = repr(t).splitlines()
    assert lines[1].split() == ["epoch", "train_loss", "val_loss", "val_accuracy", "val_f1", "lr", "time"]
    assert lines[2].split()[2] == format_value(run.history["val_loss"][0])
