"""The run store through the Python API: runs of an earlier process are listed, compared and loaded;
names reused across sessions keep both; damaged or foreign files are skipped with one warning; a store
that cannot be written is off with one warning and the run is intact."""

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from torch import nn

import nbtrain
import nbtrain.core.store.runs as runstore
from nbtrain import ConfigError, RunFileError, StoredRun, StoreWarning

IRIS = load_iris(return_X_y=True)

# an earlier session: a separate Python process writing into NBTRAIN_STORE
EARLIER = """
import torch, nbtrain
from torch import nn
from sklearn.datasets import load_iris
torch.set_num_threads(1)
data = load_iris(return_X_y=True)
run = nbtrain.train(data, model="mlp(8)", preprocess="standardize", epochs=3, display="none", name="iris")
print("TEST", repr(run.evaluate(metrics="accuracy,f1")))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 3)
    def forward(self, x):
        return self.f(x)

nbtrain.train(data, model=Net(), epochs=2, display="none", name="custom")

class Stop(nbtrain.Callback):
    def on_epoch_end(self, run, epoch, logs, **kwargs):
        run.request_stop("enough")

nbtrain.train(data, epochs=5, display="none", name="stopped", callbacks=[Stop()])

class Boom(Net):
    calls = 0
    def forward(self, x):
        Boom.calls += 1
        if Boom.calls > 8:
            raise RuntimeError("boom in forward")
        return self.f(x)

try:
    nbtrain.train(data, model=Boom(), epochs=5, display="none", name="failed")
except RuntimeError:
    pass
print("STORE", nbtrain.configure()["store"])
"""


class Net(nn.Module):  # the custom model of the earlier session, as the user would define it again
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 3)

    def forward(self, x):
        return self.f(x)


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """The store an earlier process wrote, and the test metrics it printed."""
    path = tmp_path_factory.mktemp("earlier") / "runs"
    env = dict(os.environ, NBTRAIN_STORE=str(path))
    proc = subprocess.run([sys.executable, "-c", EARLIER], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line[:5] in ("TEST ", "STORE"))
    assert lines["STORE"] == str(path)
    assert proc.stderr == ""  # writing to the store says nothing
    return path, eval(lines["TEST"])


@pytest.fixture
def store(earlier, tmp_path):
    """A copy of the earlier session's store, in use by this process (a new session)."""
    path = tmp_path / "runs"
    shutil.copytree(earlier[0], path)
    nbtrain.configure(store=path)
    return path


def test_runs_of_an_earlier_process_are_listed_with_status_and_metrics(store, earlier):
    assert len(nbtrain.runs) == 0
    listed = nbtrain.runs.listing()
    assert [r.name for r in listed] == ["iris", "custom", "stopped", "failed"]
    assert all(isinstance(r, StoredRun) for r in listed)
    by = {r.name: r for r in listed}
    assert by["iris"].status == "completed" and len(by["iris"].history) == 3
    assert by["stopped"].status == "stopped" and by["stopped"].note == "enough" and by["stopped"].epochs_done == 1
    assert by["failed"].status == "failed" and "boom in forward" in by["failed"].error
    assert by["custom"].config["model"] == "Net" and by["custom"].config["epochs"] == 2
    row = by["iris"].summary()
    assert row["when"] == by["iris"].when and len(row["when"]) == len("2026-12-01 10:00")
    assert row["test"] == f"accuracy={earlier[1]['accuracy']:.4g}"
    assert row["best"].startswith("val_accuracy=") and row["epochs"] == "3/3"
    assert by["iris"].evaluate() == earlier[1]
    assert by["iris"].evaluate(metrics="f1") == {"f1": earlier[1]["f1"]}


def test_load_by_name_rebuilds_the_run(store, earlier):
    run = nbtrain.load("iris")
    assert isinstance(run, nbtrain.Run) and run.status == "completed" and len(run.history) == 3
    assert run.evaluations["test"] == earlier[1]
    pred = run.predict(IRIS[0][:5])
    assert pred.shape == (5,) and set(pred) <= {0, 1, 2}
    assert run.preprocess is not None  # the fitted standardize came back


def test_custom_model_is_listed_and_load_says_what_to_pass(store):
    with pytest.raises(
        RunFileError, match=r"custom model \(Net\); pass an instance: nbtrain.load\('custom', model=Net"
    ):
        nbtrain.load("custom")
    run = nbtrain.load("custom", model=Net())
    assert run.predict(IRIS[0][:3]).shape == (3,)


def test_unknown_name_lists_stored_runs(store):
    with pytest.raises(RunFileError, match=r"no run named 'iirs' in the run store .*stored runs are iris, custom"):
        nbtrain.load("iirs")


def test_stored_run_without_saved_metrics_says_so(store):
    stopped = nbtrain.runs.find("stopped")
    with pytest.raises(nbtrain.DataError, match="was not evaluated on its test split"):
        stopped.evaluate()
    with pytest.raises(nbtrain.DataError, match="cannot be computed without its data"):
        nbtrain.runs.find("iris").evaluate(metrics="auc")
    with pytest.raises(nbtrain.DataError, match=r"load it first: run = nbtrain.load\('iris'\)"):
        nbtrain.runs.find("iris").predict(IRIS[0])


def test_a_name_reused_in_a_later_session_keeps_both(store, earlier):
    newer = nbtrain.train(IRIS, model="mlp(8)", epochs=1, display="none", name="iris")
    names = [r.name for r in nbtrain.runs.listing()]
    assert names == ["iris~1", "custom", "stopped", "failed", "iris"]
    assert nbtrain.runs.find("iris") is newer and nbtrain.runs.find("iris~1").epochs_done == 3
    assert len(nbtrain.load("iris").history) == 1  # the newer wins the bare name
    older = nbtrain.load("iris~1")
    assert len(older.history) == 3 and older.evaluations["test"] == earlier[1]
    assert len([f for f in os.listdir(store) if f.startswith("iris-") and f.endswith(".json")]) == 2
    # a third session: the newest is still "iris", the others count back from it
    nbtrain.runs.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runstore, "SESSION", "thirdsession")
        assert [r.name for r in nbtrain.runs.listing()][-1] == "iris"
        assert nbtrain.runs.find("iris~1").epochs_done == 3 and nbtrain.runs.find("iris").epochs_done == 1


def test_training_a_name_again_in_one_session_replaces_its_entry(tmp_path):
    nbtrain.configure(store=tmp_path)
    nbtrain.train(IRIS, epochs=1, display="none", name="x")
    second = nbtrain.train(IRIS, epochs=2, display="none", name="x")
    assert sorted(f.rsplit(".", 1)[1] for f in os.listdir(tmp_path)) == ["json", "nbtrain"]
    assert nbtrain.runs.listing() == [second]
    assert len(nbtrain.load("x").history) == 2


def test_evaluate_saves_metrics_for_later_sessions(tmp_path, monkeypatch):
    nbtrain.configure(store=tmp_path)
    run = nbtrain.train(IRIS, epochs=2, display="none", name="e")
    assert run.summary()["when"] == nbtrain.runs.stored("e").when and run.summary()["test"] == ""
    test = run.evaluate(metrics="accuracy")
    val = run.evaluate(on="val", metrics="f1")
    assert run.summary()["test"] == f"accuracy={test['accuracy']:.4g}"
    nbtrain.runs.clear()
    monkeypatch.setattr(runstore, "SESSION", "later")
    stored = nbtrain.runs.find("e")
    assert stored.evaluations == {"test": test, "val": val} and stored.evaluate(on="val") == val


def test_evaluating_a_replaced_run_leaves_the_newer_entry_alone(tmp_path):
    nbtrain.configure(store=tmp_path)
    older = nbtrain.train(IRIS, epochs=1, display="none", name="e")
    nbtrain.train(IRIS, epochs=2, display="none", name="e")
    older.evaluate()
    (entry,) = [json.loads((tmp_path / f).read_text()) for f in os.listdir(tmp_path) if f.endswith(".json")]
    assert entry["evaluations"] == {} and len(entry["history"]) == 2


def _skipped(caught):
    return [w for w in caught if issubclass(w.category, StoreWarning)]


def test_damaged_and_foreign_files_are_skipped_with_one_warning(store):
    (store / "garbage.json").write_text("{not json")
    (store / "foreign.json").write_text(json.dumps({"hello": "world"}))
    (store / "notes.txt").write_text("my notes")
    (store / "folder").mkdir()
    entry = json.loads(
        next(p for p in store.iterdir() if p.name.startswith("iris-") and p.suffix == ".json").read_text()
    )
    (store / "newer.json").write_text(json.dumps(dict(entry, version=2)))
    (store / "escape.json").write_text(json.dumps(dict(entry, name="escape", file="../../etc/passwd")))
    (store / "badhistory.json").write_text(json.dumps(dict(entry, name="bh", history=[{"epoch": [1]}])))
    (store / ".tmp-123.part").write_bytes(b"half a write in progress")  # another kernel's write: ignored
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [r.name for r in nbtrain.runs.listing()]
        again = [r.name for r in nbtrain.runs.listing()]
    assert names == again == ["iris", "custom", "stopped", "failed"]
    (w,) = _skipped(caught)  # one warning, not one per listing
    text = str(w.message)
    assert text.startswith("skipped 7 file(s) in the run store")
    for part in (
        "garbage.json (",
        "foreign.json (not an nbtrain store entry)",
        "notes.txt (not an nbtrain store file)",
        "newer.json (written by a newer nbtrain)",
        "escape.json (malformed file)",
        "badhistory.json (",
        "folder (",
    ):
        assert part in text, part
    assert ".tmp-" not in text


def test_a_damaged_run_file_still_lists_and_load_names_the_problem(store):
    (path,) = [p for p in store.iterdir() if p.name.startswith("iris-") and p.suffix == ".nbtrain"]
    path.write_bytes(path.read_bytes()[:100])
    assert nbtrain.runs.find("iris").status == "completed"
    with pytest.raises(RunFileError, match="truncated or damaged"):
        nbtrain.load("iris")


def test_unwritable_store_trains_and_says_the_store_is_off(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    nbtrain.configure(store=blocker / "runs")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = nbtrain.train(IRIS, epochs=2, display="none", name="a")
        second = nbtrain.train(IRIS, epochs=1, display="none", name="b")
    (w,) = _skipped(caught)
    assert "cannot be written" in str(w.message) and "the store is off" in str(w.message)
    assert "nbtrain.configure(store=PATH)" in str(w.message)
    assert first.status == second.status == "completed" and list(nbtrain.runs) == ["a", "b"]
    assert first.evaluate()["accuracy"] >= 0  # evaluating an unstored run writes nothing and raises nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing more to say: no second warning when listing
        assert nbtrain.runs.listing() == [first, second]
        with pytest.raises(RunFileError, match=r"this session's run is nbtrain.runs\['a'\]"):
            nbtrain.load("a")


def test_unsaveable_run_file_keeps_the_entry(tmp_path, monkeypatch):
    def refuse(run, status=None):
        raise RunFileError("the preprocessing Custom cannot be saved as data (it holds a lambda).")

    monkeypatch.setattr(runstore, "run_file_bytes", refuse)
    nbtrain.configure(store=tmp_path)
    run = nbtrain.train(IRIS, epochs=2, display="none", name="u")
    assert os.listdir(tmp_path) == [next(f for f in os.listdir(tmp_path) if f.endswith(".json"))]
    nbtrain.runs.clear()
    monkeypatch.setattr(runstore, "SESSION", "later")
    stored = nbtrain.runs.find("u")
    assert stored.history.rows == run.history.rows and stored.file is None
    with pytest.raises(RunFileError, match=r"weights could not be saved \(RunFileError: the preprocessing Custom"):
        nbtrain.load("u")


def test_interrupted_run_is_stored_as_stopped(tmp_path):
    store = runstore.RunStore(tmp_path)
    run = nbtrain.train(IRIS, epochs=1, display="none", name="i")
    run.status = "running"  # a KeyboardInterrupt outside the loop's batch boundaries
    store.put(run)
    (entry,) = store.entries()
    assert entry["status"] == "stopped" and entry["note"] == "interrupted (KeyboardInterrupt)"


def test_store_off_default_and_environment(tmp_path, monkeypatch):
    assert nbtrain.configure(store=None) == {"store": None}
    nbtrain.train(IRIS, epochs=1, display="none", name="off")
    assert nbtrain.runs.store is None and nbtrain.runs.listing() == [nbtrain.runs["off"]]
    with pytest.raises(ConfigError, match="store must be a folder path, None"):
        nbtrain.configure(store=3)
    monkeypatch.setenv("NBTRAIN_STORE", str(tmp_path / "env"))
    assert nbtrain.configure(store="") == {"store": str(tmp_path / "env")}
    nbtrain.train(IRIS, epochs=1, display="none", name="via_env")
    assert len(os.listdir(tmp_path / "env")) == 2
    monkeypatch.setenv("NBTRAIN_STORE", "")
    assert nbtrain.configure() == {"store": None}
    monkeypatch.delenv("NBTRAIN_STORE")
    monkeypatch.chdir(tmp_path)
    assert nbtrain.configure() == {"store": str(tmp_path / ".nbtrain" / "runs")}


def test_tests_and_their_kernels_never_use_the_checkout_store():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = os.environ.get("NBTRAIN_STORE")
    assert env and not os.path.abspath(env).startswith(root + os.sep)
    assert not nbtrain.configure()["store"].startswith(root + os.sep)


def test_store_write_keeps_weights_exactly(tmp_path):
    nbtrain.configure(store=tmp_path)
    run = nbtrain.train(IRIS, model="mlp(8)", epochs=2, display="none", name="w")
    loaded = nbtrain.load("w")
    for a, b in zip(run.model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a, b)
    X = IRIS[0][:20]
    assert np.array_equal(run.predict(X), loaded.predict(X))


def test_default_names_start_again_in_a_new_session(tmp_path, monkeypatch):
    nbtrain.configure(store=tmp_path)
    first = nbtrain.train(IRIS, epochs=2, display="none")
    assert first.name == "run1"
    nbtrain.runs.clear()
    monkeypatch.setattr(runstore, "SESSION", "restarted")
    again = nbtrain.train(IRIS, epochs=1, display="none")
    assert again.name == "run1"  # a notebook re-run after a restart names its runs as before
    assert [r.name for r in nbtrain.runs.listing()] == ["run1~1", "run1"]
    assert nbtrain.runs.find("run1~1").epochs_done == 2


@pytest.mark.slow
def test_a_data_parallel_run_is_stored(tmp_path):
    nbtrain.configure(store=tmp_path)
    run = nbtrain.train(IRIS, epochs=2, display="none", processes=2, name="ddp")
    loaded = nbtrain.load("ddp")
    assert run.status == loaded.status == "completed" and loaded.history.rows == run.history.rows


def test_a_relative_store_is_fixed_when_configured_and_odd_names_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert nbtrain.configure(store="rel") == {"store": str(tmp_path / "rel")}
    nbtrain.train(IRIS, epochs=1, display="none", name="a/b")
    monkeypatch.chdir(tmp_path.parent)
    assert nbtrain.configure()["store"] == str(tmp_path / "rel")
    assert nbtrain.load("a/b").name == "a/b"  # not a file path: the run store has it
    with pytest.raises(RunFileError, match="no run file at 'x/y.nbtrain'"):
        nbtrain.load("x/y.nbtrain")
