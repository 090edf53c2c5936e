"""``%runs``, ``%compare`` and ``%evaluate NAME`` over the runs of an earlier session, and
``%config NbtrainMagics.store``, in a real IPython shell.  The earlier session is this shell before
its registry was cleared and its session id changed (what a kernel restart does to the store)."""

import os

import pytest
from IPython.core.error import UsageError

import nbtrain
import nbtrain.core.store.runs as runstore
from nbtrain.display.evaluation import CompareResult, EvalResult

IRIS = "from sklearn.datasets import load_iris\ndata = load_iris(return_X_y=True)\n"


def restart(shell, monkeypatch, session):
    """What a new kernel sees: no runs in memory, a new session id, the extension loaded afresh."""
    nbtrain.runs.clear()
    monkeypatch.setattr(runstore, "SESSION", session)
    shell.ip.run_line_magic("unload_ext", "nbtrain")
    shell.ip.run_line_magic("load_ext", "nbtrain")
    shell.ip.run_line_magic("config", "NbtrainMagics.display = 'none'")


@pytest.fixture
def earlier(shell, monkeypatch):
    shell.run("%%train --epochs 3 --name iris --lr 0.05\n" + IRIS + "preprocess = 'standardize'")
    saved = dict(shell.run("%evaluate iris"))
    shell.run("%%train --epochs 2 --name other\n" + IRIS)
    restart(shell, monkeypatch, "newkernel")
    return shell, saved


def test_runs_lists_the_earlier_session(earlier):
    shell, saved = earlier
    lines = repr(shell.run("%runs")).splitlines()
    header = lines[1].split()
    assert header == ["name", "when", "model", "loss", "optimizer", "epochs", "status", "best", "test", "time"]
    assert lines[2].split()[0] == "iris" and lines[3].split()[0] == "other"
    assert f" accuracy={saved['accuracy']:.4g} " in lines[2] and " accuracy=" not in lines[3]
    assert lines[2].split()[1:3] == [nbtrain.runs.find("iris").when[:10], nbtrain.runs.find("iris").when[11:]]
    shell.run("%%train --epochs 1 --name new\n" + IRIS)
    lines = repr(shell.run("%runs")).splitlines()
    assert [ln.split()[0] for ln in lines[2:]] == ["iris", "other", "new"]
    new = nbtrain.runs["new"].summary()["when"]
    assert lines[4].split()[1:3] == new.split() and len(new) == len("2026-12-01 10:00")  # when it started


def test_runs_table_of_one_session_is_unchanged(shell):
    shell.run("%%train --epochs 1 --name a\n" + IRIS)
    header = repr(shell.run("%runs")).splitlines()[1].split()
    assert header == ["name", "when", "model", "loss", "optimizer", "epochs", "status", "best", "time"]


def test_compare_overlays_a_stored_run_with_a_live_one(earlier):
    shell, _ = earlier
    shell.run("%%train --epochs 1 --name iris --lr 0.05\n" + IRIS)
    res, outputs = shell.capture("%compare iris~1 iris")
    assert isinstance(res, CompareResult)
    assert [sorted(o) for o in outputs] == [["image/png", "text/plain"], ["text/html", "text/plain"]]
    text = repr(res.table).splitlines()
    assert text[1].split() == ["setting", "iris~1", "iris"]
    epochs = next(ln.split() for ln in text if "epochs_done" in ln.split())
    assert epochs[-2:] == ["3", "1"]
    assert "loss curves of iris~1, iris" in outputs[0]["text/plain"]


def test_evaluate_a_stored_run_shows_its_saved_metrics(earlier):
    shell, saved = earlier
    res, outputs = shell.capture("%evaluate iris")
    assert isinstance(res, EvalResult) and dict(res) == saved
    assert outputs[0]["text/plain"].splitlines()[0] == "iris on the test split"
    with pytest.raises(UsageError, match="was not evaluated on its test split"):
        shell.run("%evaluate other")
    with pytest.raises(UsageError, match=r"load it first: run = nbtrain.load\('iris'\)"):
        shell.run("%evaluate iris --plot confusion")
    # %predict loads a stored run itself (issue 23): it predicts as the run did in its session
    assert shell.run("%predict iris data[0][:3]").shape == (3,)
    with pytest.raises(UsageError, match=r"no run named 'irsi': did you mean 'iris'\? runs are: iris, other"):
        shell.run("%evaluate irsi")


def test_load_in_a_cell_and_the_older_run_after_a_name_is_reused(earlier, monkeypatch):
    shell, saved = earlier
    shell.run("%%train --epochs 1 --name iris\n" + IRIS)
    restart(shell, monkeypatch, "thirdkernel")
    names = [ln.split()[0] for ln in repr(shell.run("%runs")).splitlines()[2:]]
    assert names == ["iris~1", "other", "iris"]
    assert dict(shell.run("%evaluate iris~1")) == saved
    run = shell.run("import nbtrain\nnbtrain.load('iris~1')")
    assert len(run.history) == 3 and run.predict(shell.ns["data"][0][:2]).shape == (2,)


def test_config_store_sets_and_turns_off_the_store(shell, tmp_path):
    target = tmp_path / "elsewhere"
    shell.run(f"%config NbtrainMagics.store = {str(target)!r}")
    assert nbtrain.configure()["store"] == str(target)
    shell.run("%%train --epochs 1 --name a\n" + IRIS)
    assert len(os.listdir(target)) == 2
    shell.run("%config NbtrainMagics.store = None")
    assert nbtrain.configure()["store"] is None
    shell.run("%%train --epochs 1 --name b\n" + IRIS)
    assert len(os.listdir(target)) == 2 and list(nbtrain.runs) == ["a", "b"]
