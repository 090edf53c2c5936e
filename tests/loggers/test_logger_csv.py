"""The CSV logger, read back with pandas; and what every logger shares (hot path, shorthand, errors)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from loggers_helpers import StopAt, quick

import nbtrain
from nbtrain.core.events import CallbackList
from nbtrain.loggers import CSV, from_option


def _summary(path) -> dict:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return dict(zip(df["key"], df["value"]))


def test_csv_round_trips_through_pandas(tmp_path, one_thread):
    run = quick(callbacks=[CSV(tmp_path / "iris.csv")])
    df = pd.read_csv(tmp_path / "iris.csv")
    expected = pd.DataFrame(run.history.rows)
    assert list(df.columns) == list(expected.columns)
    assert len(df) == 4 and list(df["epoch"]) == [1, 2, 3, 4]
    for col in expected.columns:  # csv writes repr(float): pandas reads back the very same floats
        assert df[col].tolist() == expected[col].tolist(), col
    summary = _summary(tmp_path / "iris.summary.csv")
    assert summary["status"] == "completed"
    assert float(summary["lr"]) == run.config["lr"]
    assert summary["model"] == run.config["model"] and summary["epochs"] == "4" and summary["seed"] == "0"
    assert summary["preprocess"] == str(run.config["preprocess"])
    assert float(summary["test_accuracy"]) == run.evaluations["test"]["accuracy"]


def test_csv_default_path_and_name_template(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    quick(log="csv", name="a", evaluate=False)
    assert len(pd.read_csv(tmp_path / "runs" / "a" / "history.csv")) == 4
    shared = CSV(tmp_path / "logs" / "{name}.csv")  # one logger, two runs: one file each
    quick(callbacks=[shared], name="b", epochs=2, evaluate=False)
    quick(callbacks=[shared], name="c", epochs=3, evaluate=False)
    assert len(pd.read_csv(tmp_path / "logs" / "b.csv")) == 2
    assert len(pd.read_csv(tmp_path / "logs" / "c.csv")) == 3


def test_csv_records_a_stopped_run(tmp_path, one_thread):
    run = quick(callbacks=[CSV(tmp_path / "s.csv"), StopAt(2)], evaluate=False)
    assert run.status == "stopped"
    assert len(pd.read_csv(tmp_path / "s.csv")) == 2
    assert _summary(tmp_path / "s.summary.csv")["status"] == "stopped: stop requested by the test"


def test_a_failed_run_is_recorded_with_its_reason(tmp_path, one_thread):
    class Boom(nbtrain.Callback):
        def on_epoch_end(self, run, epoch, logs, **kwargs):
            if epoch == 2:
                raise RuntimeError("the user's callback broke")

    with pytest.raises(RuntimeError):
        quick(callbacks=[CSV(tmp_path / "f.csv"), Boom()], evaluate=False)
    status = _summary(tmp_path / "f.summary.csv")["status"]
    assert status.startswith("failed: RuntimeError: the user's callback broke"), status


def test_a_logger_that_cannot_write_warns_once_and_the_run_goes_on(tmp_path, one_thread):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(nbtrain.loggers.LoggerWarning, match="CSV logging stopped") as caught:
        run = quick(callbacks=[CSV(blocker / "x.csv")], evaluate=False)
    assert run.status == "completed" and len(run.history) == 4
    assert len([w for w in caught if issubclass(w.category, nbtrain.loggers.LoggerWarning)]) == 1


def test_loggers_cost_nothing_per_batch(tmp_path):
    # the loop calls only callbacks that override on_batch_end on every step: none of the loggers does
    loggers = from_option(["csv"]) + [CSV(tmp_path / "x.csv")]
    pytest.importorskip("tensorboard")
    loggers += from_option("tensorboard")
    if _has("mlflow"):
        loggers += from_option("mlflow")
    assert CallbackList(loggers)._batch == []


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_log_option_errors_before_training():
    with pytest.raises(nbtrain.ConfigError, match=r"log='tensorbord' is not a logger \(did you mean 'tensorboard'\?\)"):
        quick(log="tensorbord")
    with pytest.raises(nbtrain.ConfigError, match="pass logger objects through callbacks"):
        quick(log=[3])
    assert len(nbtrain.runs) == 0
    assert [type(x).__name__ for x in from_option("csv, csv")] == ["CSV", "CSV"]
    assert from_option(None) == [] and from_option("") == []


def test_processes_two_logs_once_from_rank_zero(tmp_path):
    run = quick(callbacks=[CSV(tmp_path / "d.csv")], processes=2, device="cpu", epochs=3, evaluate=False)
    df = pd.read_csv(tmp_path / "d.csv")
    assert run.status == "completed"
    assert df["epoch"].tolist() == [1, 2, 3]  # one row an epoch: only rank 0's events reach the logger
    assert df["train_loss"].tolist() == run.history["train_loss"]
    assert not any(math.isnan(v) for v in df["val_loss"])


def test_nothing_of_tensorboard_or_mlflow_is_imported_until_a_logger_is_made(tmp_path):
    import json
    import os
    import subprocess
    import sys

    code = (
        "import sys, json, nbtrain\n"
        "from nbtrain.loggers import CSV\n"
        "from sklearn.datasets import load_iris\n"
        "nbtrain.train(load_iris(return_X_y=True), epochs=1, display='none', log='csv')\n"
        "print(json.dumps(sorted(m for m in ('tensorboard', 'mlflow') if m in sys.modules)))\n"
    )
    env = dict(os.environ, NBTRAIN_STORE="", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
