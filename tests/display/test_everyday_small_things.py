"""The small things of issue 23 (item 7) and the data pitfalls (item 6): one rule for durations, a
long run's table folded, wrong-kind predict input, the ``drop:`` preset and the one-hot hint,
``%%train?`` without a stray ``::``, the docs' generated blocks committed as real Markdown."""

import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import nbtrain
from nbtrain.display.format import TIME_SANITIZE, duration
from nbtrain.display.table import MetricTable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(
    "seconds, text",
    [(0.0197, "20 ms"), (0.0004, "0.4 ms"), (1.34, "1.3 s"), (42.4, "42 s"), (125, "2 min 5 s"), (3725, "1 h 2 min")],
)
def test_one_rule_for_durations(seconds, text):
    assert duration(seconds) == text
    assert re.fullmatch(TIME_SANITIZE, text)


def test_a_long_runs_table_shows_first_best_and_last_rows():
    rows = [
        {"epoch": float(e), "train_loss": 1 / e, "val_loss": abs(e - 80) + 1.0, "time": 0.01} for e in range(1, 177)
    ]
    t = MetricTable(rows, best=80)
    lines = repr(t).splitlines()
    epochs = [ln.split()[1] if ln.startswith("*") else ln.split()[0] for ln in lines[1:-1]]
    assert epochs == ["1", "2", "3", "...", "79", "80", "81", "...", "174", "175", "176"]
    assert lines[-1] == "* best epoch 80 (val_loss); 9 of 176 epochs shown (run.history has all)"
    assert [ln for ln in lines if ln.startswith("*")][0].split()[1] == "80"
    assert t.to_html().count("<tr") == 12  # header + 11 rows
    assert len(repr(MetricTable(rows[:20], best=3)).splitlines()) == 22  # short runs: every epoch (+ head, foot)


def _customers(n=120, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"customer_id": [f"c{i:04d}" for i in range(n)], "age": rng.uniform(18, 80, n)})
    df["plan"] = rng.choice(["basic", "gold"], n)
    df["churn"] = (df["age"] > 50).astype(int)
    return df


def test_an_identifier_column_headed_for_onehot_gets_one_line_and_drop_leaves_it_out():
    df = _customers()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = nbtrain.train(df, target="churn", preprocess="standardize | onehot", epochs=1, display="none")
    lines = [str(w.message) for w in seen if "customer_id" in str(w.message)]
    assert len(lines) == 1 and "different value in every row" in lines[0] and "drop:customer_id" in lines[0]
    assert run.hints == lines
    n_train = run.config["n_train"]
    assert run.config["input_shape"] == [1 + n_train + 2]  # age, one feature per training id, two plans
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        kept = nbtrain.train(df, target="churn", preprocess="drop:customer_id | standardize | onehot", epochs=1,
                             display="none")  # fmt: skip
    assert kept.config["input_shape"] == [3] and not kept.hints and not seen
    assert list(kept.predict(df.drop(columns=["churn"]).head(3))) == list(
        kept.predict(df.drop(columns=["churn", "customer_id"]).head(3))
    )
    with pytest.raises(nbtrain.NbtrainError, match="drop: column 'nope' is not in the data"):
        nbtrain.train(df, target="churn", preprocess="drop:nope | onehot", epochs=1, display="none")


def test_wrong_kind_predict_input_names_the_columns():
    df = _customers()
    run = nbtrain.train(df.drop(columns=["customer_id", "plan"]), target="churn", epochs=1, display="none")
    with pytest.raises(nbtrain.NbtrainError, match=r"needs one with its columns: age; got ndarray"):
        run.predict(np.zeros((2, 1)))


def test_train_help_starts_with_its_usage_and_train_documents_the_basics():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbtrain")
    for kind, name in (("cell", "train"), ("cell", "sweep"), ("line", "evaluate")):
        doc = ip.magics_manager.magics[kind][name].__doc__
        assert not doc.lstrip().startswith("::") and doc.lstrip().startswith("%")
    doc = nbtrain.train.__doc__
    for word in ("mlp(", "cross_entropy", "sgd(momentum=0.9)", "impute", "onehot", "drop:", "restore_best"):
        assert word in doc, word


def test_the_docs_generated_blocks_are_committed_and_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location("reference", os.path.join(ROOT, "docs", "hooks", "reference.py"))
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    for page, must in (("magics.md", "--restore-best"), ("presets.md", "`standardize`")):
        with open(os.path.join(ROOT, "docs", page), encoding="utf-8") as f:
            text = f.read()
        assert must in text, f"docs/{page} holds no rendered block: run python docs/hooks/reference.py --write"
        assert ref.fill(text, page, committed=True) == text, (
            f"docs/{page} is stale: run python docs/hooks/reference.py --write"
        )


def test_the_live_panels_counters_agree_at_every_frame():
    """A long run of short epochs, drawn every few epochs (a hand clock): at each epoch's end the epoch
    bar, its text and the status line's epoch tell the same story, and the batch bar is not stuck at 0."""
    from nbtrain.core.events import Callback
    from nbtrain.display.panel import PanelView

    t = [0.0]
    panel = PanelView(display=False, clock=lambda: t[0], min_interval=0.25)
    frames = []

    class Look(Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            t[0] += 0.01

        def on_epoch_end(self, run, epoch, logs, **kw):
            status = panel.status.value
            if status.startswith("epoch "):
                shown = int(status.split()[1].split("/")[0])
                frames.append((panel.epoch_bar.value, int(panel.epoch_text.value.split("/")[0]), shown))
                frames[-1] += (panel.batch_bar.value, panel.batch_text.value)

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)).astype("float32"), rng.integers(0, 2, 60)
    nbtrain.train((X, y), epochs=60, batch_size=16, display="none", callbacks=[panel, Look()], val=0.2, test=0.2)
    assert len(frames) == 60
    for bar, text, status, batch, batch_text in frames:
        assert bar == text == status - 1, frames  # finished epochs, and the one the status line is in
        assert batch_text == f"{batch}/3" and batch > 0


def test_runs_rows_show_when_and_the_optimizers_arguments_and_titles_stay_on_one_line():
    from datetime import datetime

    from nbtrain.display.evaluation import evaluate, runs_table

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(80, 3)).astype("float32"), rng.integers(0, 2, 80)
    run = nbtrain.train((X, y), optimizer="sgd(momentum=0.9)", epochs=1, display="none", name="opt")
    row = run.summary()
    assert row["optimizer"] == "sgd(momentum=0.9)" and run.config["optimizer"] == "sgd"
    assert abs(datetime.strptime(row["when"], "%Y-%m-%d %H:%M").timestamp() - run.started) < 120
    assert "sgd(momentum=0.9)" in repr(runs_table([run]))
    assert "white-space:nowrap" in evaluate(run).table.to_html().split("<caption")[1].split(">")[0]
