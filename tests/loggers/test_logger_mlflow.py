"""The MLflow logger against MLflow itself: a SQLite backend store, and once a real ``mlflow server``
process on 127.0.0.1 (started and stopped here); read back with MLflow's own client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from loggers_helpers import StopAt, iris, quick

pytest.importorskip("mlflow")

from mlflow import MlflowClient

import nbtrain
from nbtrain.loggers import MLflow


def _check_run(client, mlrun, run, tmp_path):
    rid = mlrun.info.run_id
    for col in [k for k in run.history.keys() if k != "epoch"]:
        points = sorted(client.get_metric_history(rid, col), key=lambda m: m.step)
        assert [m.step for m in points] == run.history["epoch"], col
        assert [m.value for m in points] == pytest.approx(run.history[col], rel=1e-12, nan_ok=True), col
    (test,) = client.get_metric_history(rid, "test_accuracy")
    assert test.value == pytest.approx(run.evaluations["test"]["accuracy"], rel=1e-12)
    params = mlrun.data.params
    assert float(params["lr"]) == run.config["lr"]
    assert params["model"] == "mlp(8)" and params["epochs"] == "4" and params["batch_size"] == "32"
    assert params["seed"] == "0" and params["preprocess"] == str(run.config["preprocess"])
    assert mlrun.info.status == "FINISHED" and mlrun.data.tags["nbtrain.status"] == "completed"
    (artifact,) = client.list_artifacts(rid)
    assert artifact.path == "iris.nbtrain"
    local = client.download_artifacts(rid, artifact.path, str(tmp_path))
    loaded = nbtrain.load(local)
    X = iris()[0][:20]
    assert (loaded.predict(X) == run.predict(X)).all()


def test_sqlite_store_holds_every_metric_step_the_params_and_the_run_file(tmp_path, one_thread):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = MLflow(uri, experiment="iris-exp")
    run = quick(callbacks=[logger])
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("iris-exp")
    (mlrun,) = client.search_runs([exp.experiment_id])
    assert mlrun.info.run_name == "iris" and logger.run_ids["iris"] == mlrun.info.run_id
    _check_run(client, mlrun, run, tmp_path)


def test_stopped_run_is_killed_and_folds_nest_under_their_group(tmp_path, one_thread):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = MLflow(uri, experiment="nest")
    quick(callbacks=[logger], name="grp/a", evaluate=False)
    run = quick(callbacks=[logger, StopAt(1)], name="grp/b", evaluate=False)
    assert run.status == "stopped"
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("nest")
    by_name = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert set(by_name) == {"grp", "a", "b"}
    parent = by_name["grp"].info.run_id
    assert by_name["a"].data.tags["mlflow.parentRunId"] == parent == by_name["b"].data.tags["mlflow.parentRunId"]
    assert by_name["b"].info.status == "KILLED"
    assert by_name["b"].data.tags["nbtrain.status"] == "stopped: stop requested by the test"
    assert len(client.get_metric_history(by_name["b"].info.run_id, "train_loss")) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_warns_once_and_training_goes_on(tmp_path, one_thread):
    logger = MLflow(f"http://127.0.0.1:{_free_port()}", experiment="nowhere")
    t0 = time.monotonic()
    with pytest.warns(nbtrain.loggers.LoggerWarning, match="cannot be reached") as caught:
        run = quick(callbacks=[logger])
    assert run.status == "completed" and len(run.history) == 4 and "accuracy" in run.evaluations["test"]
    assert len([w for w in caught if issubclass(w.category, nbtrain.loggers.LoggerWarning)]) == 1
    assert time.monotonic() - t0 < 30  # no minutes of HTTP retries, no 30 s wait for the end's writes
    left = [t for t in threading.enumerate() if t.name == "nbtrain-mlflow"]
    for t in left:
        t.join(5)  # a stopped writer thread ends at once; one still retrying HTTP would not
    assert not [t for t in left if t.is_alive()]


@pytest.mark.slow
def test_against_a_real_mlflow_server_process(tmp_path, one_thread):
    port = _free_port()
    cmd = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", str(tmp_path / "art"),
    ]  # fmt: skip
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "mlflow server did not start in 120 s"
                time.sleep(0.5)
        run = quick(callbacks=[MLflow(uri, experiment="served")])
        client = MlflowClient(uri)
        (mlrun,) = client.search_runs([client.get_experiment_by_name("served").experiment_id])
        _check_run(client, mlrun, run, tmp_path)
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait(10)
        log.close()


def test_a_sweeps_trials_are_nested_under_the_sweep(tmp_path, one_thread):
    pytest.importorskip("optuna")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    s = nbtrain.sweep(
        iris(), model="mlp(8)", preprocess="standardize", lr=nbtrain.loguniform(1e-3, 1e-1), trials=2, epochs=2,
        display="none", name="mlsweep", callbacks=[MLflow(uri, experiment="sweeps")],
    )  # fmt: skip
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("sweeps").experiment_id])
    by_name = {r.info.run_name: r for r in runs}
    assert set(by_name) == {"mlsweep", "0", "1"}
    parent = by_name["mlsweep"].info.run_id
    for number, trial in s.runs.items():
        child = by_name[str(number)]
        assert child.data.tags["mlflow.parentRunId"] == parent
        assert float(child.data.params["lr"]) == trial.config["lr"]  # the sampled value
        assert child.data.params["sweep.trial"] == str(number)
        points = sorted(client.get_metric_history(child.info.run_id, "val_loss"), key=lambda m: m.step)
        assert [m.value for m in points] == pytest.approx(trial.history["val_loss"], rel=1e-12)
