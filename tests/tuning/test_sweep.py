"""Sweeps through the Python twin: trials are Runs, bad input fails before any trial, failures and
pruning are recorded, Stop / KeyboardInterrupt ends the sweep and leaves it resumable."""

import os

import pytest
import torch

import nbtrain

pytest.importorskip("optuna")
pytestmark = pytest.mark.usefixtures("one_thread")

SPACE = dict(model=nbtrain.choice(["mlp(16)", "mlp(32)"]), lr=nbtrain.loguniform(1e-3, 1e-1))


def sweep(data, **kw):
    args = dict(preprocess="standardize", epochs=2, display="none", metric="val_accuracy", trials=4, **SPACE)
    args.update(kw)
    return nbtrain.sweep(data, **args)


def test_every_trial_is_a_registered_run(small_digits):
    s = sweep(small_digits, name="s")
    assert s.status == "completed" and s.direction == "maximize"
    rows = s.rows()
    assert [r.number for r in rows] == [0, 1, 2, 3] and {r.status for r in rows} == {"completed"}
    assert [n for n in nbtrain.runs] == ["s/0", "s/1", "s/2", "s/3"]
    for r in rows:
        run = nbtrain.runs[r.run]
        assert run.config["sweep"] == {"name": "s", "trial": r.number, "params": r.params}
        assert r.value == pytest.approx(max(run.history["val_accuracy"]))
        assert run.config["model"] == r.params["model"] and run.config["lr"] == pytest.approx(r.params["lr"])
    assert s.best_run is nbtrain.runs[s.best.run]
    assert s.best_value == max(r.value for r in rows)
    assert set(s.importances()) == {"model", "lr"}


def test_the_seeded_sampler_repeats(small_digits):
    a = [r.params for r in sweep(small_digits, name="a", trials=3).rows()]
    b = [r.params for r in sweep(small_digits, name="b", trials=3).rows()]
    assert a == b


def test_the_default_name_is_the_next_free_one(small_digits):
    assert sweep(small_digits, trials=1).name == "sweep1"
    assert sweep(small_digits, trials=1).name == "sweep2"


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(model="mlp(16)", lr=0.01), "nothing to search"),
        (dict(model=nbtrain.choice(["mlp(16)"]), lr=0.01), "nothing to search"),
        (dict(metric="val_r2"), "not a column any run"),
        (dict(metric="accuracy"), "did you mean val_accuracy"),
        (dict(trials=0), "trials must be a positive integer"),
        (dict(sampler="bayes"), "sampler must be one of"),
        (dict(sampler="grid"), "grid sampler needs discrete"),
        (dict(lr="auto", model=nbtrain.choice(["mlp(16)", "mlp(32)"]), optimizer="adam(lr=0.1)"), "sets its own"),
        (dict(storage="/nonexistent-folder/study.log"), "cannot be written"),
        (dict(checkpoint="x.ckpt"), "not supported in a sweep"),
    ],
)
def test_bad_input_is_one_error_before_any_trial(small_digits, kw, words):
    with pytest.raises(nbtrain.NbtrainError, match=words):
        sweep(small_digits, **kw)
    assert not nbtrain.runs


def test_a_storage_that_is_a_folder_cannot_be_written(small_digits, tmp_path):
    with pytest.raises(nbtrain.ConfigError, match="it is a folder"):
        sweep(small_digits, storage=tmp_path)


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(small_digits):
    s = sweep(small_digits, model=nbtrain.choice(["mlp(16)", "cnn(4)"]), lr=0.01, sampler="grid", trials=2)
    by_model = {r.params["model"]: r for r in s.rows()}
    assert by_model["mlp(16)"].status == "completed"
    bad = by_model["cnn(4)"]
    assert bad.status == "failed" and bad.reason and s.status == "completed"


def test_a_model_that_raises_fails_only_its_trial(small_digits):
    class Boom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, x):
            if self.training:
                raise ArithmeticError("boom")
            return self.fc(x)

    s = sweep(small_digits, model=nbtrain.choice(["mlp(16)", Boom()]), lr=0.01, sampler="grid", trials=2)
    rows = {r.params["model"]: r for r in s.rows()}
    assert rows["Boom"].status == "failed" and "ArithmeticError: boom" in rows["Boom"].reason
    assert rows["mlp(16)"].status == "completed"


def test_module_choices_start_every_trial_from_the_declared_weights(small_digits):
    net = torch.nn.Sequential(torch.nn.Linear(64, 10))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    s = sweep(small_digits, model=net, lr=nbtrain.choice([0.01, 0.02]), sampler="grid", trials=2)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    models = [nbtrain.runs[r.run].model for r in s.rows()]
    assert models[0] is not models[1] and models[0] is not net


def test_pruning_ends_hopeless_trials(small_digits):
    import optuna

    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    s = sweep(small_digits, lr=nbtrain.loguniform(1e-5, 1e-1), epochs=4, trials=8, prune=pruner)
    pruned = [r for r in s.rows() if r.status == "pruned"]
    assert pruned, [(r.status, r.value) for r in s.rows()]
    for r in pruned:
        run = nbtrain.runs[r.run]
        assert run.status == "stopped" and r.epochs < 4 and "pruned by MedianPruner" in r.reason
        assert len(run.history) == r.epochs


class StopAt(nbtrain.Callback):
    """Stops trial ``number`` at its 3rd batch: by the Stop button's call, or by a KeyboardInterrupt."""

    def __init__(self, number, how):
        self.number, self.how = number, how

    def on_batch_end(self, run, epoch, batch, num_batches, **kw):
        if run.name.endswith(f"/{self.number}") and epoch == 1 and batch == 3:
            if self.how == "interrupt":
                raise KeyboardInterrupt
            run.request_stop("Stop button")


@pytest.mark.parametrize("how", ["interrupt", "button"])
def test_stop_ends_the_sweep_keeps_finished_trials_and_resumes(small_digits, tmp_path, how):
    storage = str(tmp_path / "study.log")
    s = sweep(small_digits, name="r", trials=5, storage=storage, callbacks=[StopAt(2, how)])
    assert s.status == "stopped"
    assert [(r.number, r.status) for r in s.rows()] == [(0, "completed"), (1, "completed"), (2, "stopped")]
    assert nbtrain.runs["r/2"].status == "stopped" and "r/3" not in nbtrain.runs
    stopped_params = s.rows()[2].params
    again = sweep(small_digits, name="r", trials=5, storage=storage)  # the same sweep, run again: it goes on
    rows = again.rows()
    assert again.status == "completed"
    assert [r.status for r in rows].count("completed") == 5
    assert rows[3].params == stopped_params  # the interrupted trial is evaluated first


def test_a_second_run_without_a_name_goes_on_with_the_storage_study(small_digits, tmp_path):
    storage = str(tmp_path / "study.db")
    first = sweep(small_digits, trials=2, storage=storage)
    second = sweep(small_digits, trials=3, storage=storage)
    assert first.name == second.name == "sweep1"
    assert len(second.rows()) == 3 and os.path.getsize(storage) > 0


def test_grid_evaluates_each_point_once_and_stops(small_digits):
    s = sweep(small_digits, model=nbtrain.choice(["mlp(16)", "mlp(32)"]), lr=nbtrain.choice([0.01, 0.03]),
              sampler="grid", trials=10)  # fmt: skip
    points = [tuple(sorted(r.params.items())) for r in s.rows()]
    assert len(points) == 4 and len(set(points)) == 4 and s.status == "completed"


def test_without_optuna_a_sweep_is_one_clear_error(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['optuna'] = None\n"  # as if it were not installed
        "import nbtrain\n"
        "try:\n"
        "    nbtrain.sweep(([[0.0], [1.0]] * 20, [0, 1] * 20), lr=nbtrain.loguniform(1e-3, 1e-1))\n"
        "except nbtrain.NbtrainError as exc:\n"
        "    print('ERROR', exc)\n"
        "print('lr', nbtrain.lr_find(([[0.0], [1.0]] * 20, [0, 1] * 20), steps=20) > 0)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ERROR sweeps need Optuna, which is not installed: pip install 'nbtrain[tune]'" in out.stdout
    assert "lr True" in out.stdout  # the finder needs nothing extra
