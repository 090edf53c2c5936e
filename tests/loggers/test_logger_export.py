"""``nbtrain.runs.export``: runs of the run store, written in an earlier session, pushed to
TensorBoard / MLflow / CSV afterwards and read back with those tools' own readers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from loggers_helpers import quick

import nbtrain


def _earlier_session(one_thread_run):
    """The run as a later kernel sees it: only in the run store."""
    nbtrain.runs.clear()
    stored = nbtrain.runs.find("iris")
    assert isinstance(stored, nbtrain.StoredRun)
    return stored


def test_export_csv_of_a_stored_run(tmp_path, one_thread):
    run = quick()
    stored = _earlier_session(run)
    assert nbtrain.runs.export("csv", "iris", path=tmp_path / "{name}.csv") == ["iris"]
    df = pd.read_csv(tmp_path / "iris.csv")
    assert df["val_loss"].tolist() == stored.history["val_loss"] == run.history["val_loss"]
    summary = pd.read_csv(tmp_path / "iris.summary.csv", dtype=str, keep_default_na=False)
    summary = dict(zip(summary["key"], summary["value"]))
    assert summary["status"] == "completed"
    assert float(summary["test_accuracy"]) == run.evaluations["test"]["accuracy"]


def test_export_tensorboard_and_mlflow(tmp_path, one_thread):
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = quick()
    _earlier_session(run)
    nbtrain.runs.export("tensorboard", log_dir=tmp_path / "tb" / "{name}")
    ea = EventAccumulator(str(tmp_path / "tb" / "iris"), size_guidance={"scalars": 0})
    ea.Reload()
    assert [e.value for e in ea.Scalars("train_loss")] == [float(np.float32(v)) for v in run.history["train_loss"]]
    assert ea.Scalars("test_accuracy")[0].value == float(np.float32(run.evaluations["test"]["accuracy"]))

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    nbtrain.runs.export("mlflow", "iris", tracking_uri=uri, experiment="old")
    client = MlflowClient(uri)
    (mlrun,) = client.search_runs([client.get_experiment_by_name("old").experiment_id])
    steps = sorted(client.get_metric_history(mlrun.info.run_id, "val_loss"), key=lambda m: m.step)
    assert [m.value for m in steps] == pytest.approx(run.history["val_loss"], rel=1e-12)
    assert mlrun.data.params["model"] == "mlp(8)" and mlrun.info.status == "FINISHED"
    (artifact,) = client.list_artifacts(mlrun.info.run_id)
    loaded = nbtrain.load(client.download_artifacts(mlrun.info.run_id, artifact.path, str(tmp_path)))
    X = quick.__globals__["iris"]()[0][:10]
    assert (loaded.predict(X) == run.predict(X)).all()


def test_export_names_a_missing_run():
    with pytest.raises(nbtrain.ConfigError, match="no run named 'nope' to export"):
        nbtrain.runs.export("csv", "nope")
    with pytest.raises(nbtrain.ConfigError, match="the loggers are tensorboard, mlflow, csv"):
        nbtrain.runs.export("wandb")
