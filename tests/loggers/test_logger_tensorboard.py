"""The TensorBoard logger, read back with TensorBoard's own event reader (EventAccumulator)."""

from __future__ import annotations

import numpy as np
import pytest
from loggers_helpers import StopAt, quick

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from nbtrain.loggers import TensorBoard


def _read(folder) -> EventAccumulator:
    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    ea.Reload()
    return ea


def _text(ea, tag: str) -> str:
    (event,) = ea.Tensors(tag)
    return event.tensor_proto.string_val[0].decode()


def test_every_scalar_reads_back_equal_to_the_history(tmp_path, one_thread):
    run = quick(callbacks=[TensorBoard(tmp_path / "tb")])
    ea = _read(tmp_path / "tb")
    columns = [k for k in run.history.keys() if k != "epoch"]
    assert {"train_loss", "val_loss", "val_accuracy", "val_f1", "lr", "time"} <= set(columns)
    for col in columns:
        events = ea.Scalars(col)
        assert [e.step for e in events] == run.history["epoch"], col
        # TensorBoard keeps scalars as float32: equal to the history's values rounded so
        assert [e.value for e in events] == [float(np.float32(v)) for v in run.history[col]], col
    (test,) = ea.Scalars("test_accuracy")
    assert test.value == float(np.float32(run.evaluations["test"]["accuracy"])) and test.step == 4
    assert _text(ea, "status/text_summary") == "completed"
    settings = _text(ea, "settings/text_summary")
    assert f"| lr | {run.config['lr']} |" in settings and "| model | mlp(8) |" in settings
    assert ea.PluginTagToContent("hparams")  # the HPARAMS tab has this run


def test_default_folder_is_runs_name_and_a_stopped_run_says_why(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    run = quick(log="tensorboard", name="stopper", callbacks=[StopAt(2)], evaluate=False)
    assert run.status == "stopped"
    ea = _read(tmp_path / "runs" / "stopper")
    assert [e.step for e in ea.Scalars("train_loss")] == [1, 2]
    assert _text(ea, "status/text_summary") == "stopped: stop requested by the test"


def test_each_sweep_trial_gets_its_own_folder(tmp_path, monkeypatch, one_thread):
    pytest.importorskip("optuna")
    import nbtrain

    monkeypatch.chdir(tmp_path)
    s = nbtrain.sweep(
        quick.__globals__["iris"](), model="mlp(8)", preprocess="standardize", lr=nbtrain.loguniform(1e-3, 1e-1),
        trials=2, epochs=2, display="none", name="tbsweep", log="tensorboard",
    )  # fmt: skip
    assert len(s.runs) == 2
    for number, trial in s.runs.items():
        ea = _read(tmp_path / "runs" / "tbsweep" / str(number))
        assert [e.value for e in ea.Scalars("val_loss")] == [float(np.float32(v)) for v in trial.history["val_loss"]]
