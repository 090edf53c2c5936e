"""One "best" in a sweep (issue 23, item 4): a trial's value, the sweep table, ``best_value``,
``best_run`` and the trial run's repr / ``%runs`` row name the same epoch and value."""

import pytest

import nbtrain
from nbtrain.core.history import resolve_best
from nbtrain.display.tune import leaderboard

pytest.importorskip("optuna")
pytestmark = pytest.mark.usefixtures("one_thread")


def test_trial_values_are_their_runs_best_epochs(small_digits):
    s = nbtrain.sweep(
        small_digits, model="mlp(16)", lr=nbtrain.loguniform(1e-3, 1e-1), preprocess="standardize", epochs=4,
        display="none", metric="val_accuracy", trials=3, name="ob",
    )  # fmt: skip
    for r in s.rows():
        run = nbtrain.runs[r.run]
        best = resolve_best(list(run.history), "val_accuracy")  # computed here from the rows
        assert run.config["monitor"] == "val_accuracy" and run.best()["epoch"] == best.epoch
        assert r.value == pytest.approx(best.value)
        assert f"best epoch {best.epoch}: val_accuracy={best.value:.4g}" in repr(run)
        assert run.summary()["best"] == f"val_accuracy={best.value:.4g} (epoch {best.epoch})"
    b = s.best_run
    assert s.best_value == pytest.approx(b.best()["val_accuracy"])
    table = repr(leaderboard(s, s.rows()))
    assert f"{s.best_value:.4g}" in table
