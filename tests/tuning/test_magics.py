"""%%lr_find, %%sweep and %%train --lr auto in a real IPython shell."""

import pytest
from IPython.core.error import UsageError

import nbtrain

pytest.importorskip("optuna")

BODY = """data = load_digits(return_X_y=True)
preprocess = "standardize"
"""


def test_lr_find_cell_returns_the_suggestion_and_changes_nothing(shell):
    shell.run("import torch\nnet = torch.nn.Sequential(torch.nn.Linear(64, 10))\nw = net[0].weight.clone()")
    lr = shell.run("%%lr_find --steps 60 --seed 3 --name ignored\n" + BODY + "model = net\n")
    assert isinstance(lr, nbtrain.display.tune.LRSuggestion) and lr > 0
    assert shell.run("bool((net[0].weight == w).all())") is True
    assert shell.ns["model"] is shell.ns["net"]  # the cell's own assignment; nothing put back
    assert not nbtrain.runs


def test_train_lr_auto_says_which_rate_it_chose(shell, capsys):
    shell.run("%config NbtrainMagics.display = 'console'")
    run = shell.run("%%train --lr auto --epochs 1\n" + BODY + 'model = "mlp(32)"\n')
    out = capsys.readouterr().out
    assert f"lr_find: chose lr={run.config['lr']:.3g}" in out


def test_lr_auto_with_an_optimizer_rate_is_one_usage_error(shell):
    with pytest.raises(UsageError, match="sets its own"):
        shell.run("%%train --lr auto\n" + BODY + 'optimizer = "adam(lr=0.01)"\n')
    with pytest.raises(UsageError, match="invalid lr value"):
        shell.run("%%train --lr fast\n" + BODY)
    assert not nbtrain.runs


def test_sweep_cell_with_spaces_in_declarations_and_options(shell):
    s = shell.run(
        "%%sweep --trials 3 --metric val_accuracy --epochs 2 --name cell\n"
        + BODY
        + 'model = nbtrain.choice(["mlp(16)", "mlp(32)"])\n'
        + "lr = nbtrain.loguniform(1e-3, 1e-1)\n"
        + "batch_size = nbtrain.choice([32, 128])\n"
    )
    assert s.status == "completed" and list(nbtrain.runs) == ["cell/0", "cell/1", "cell/2"]
    for r in s.rows():
        run = nbtrain.runs[r.run]
        assert run.config["batch_size"] == r.params["batch_size"] and run.config["epochs"] == 2
        assert set(r.params) == {"model", "lr", "batch_size"}


def test_sweep_cell_any_option_is_a_space_and_plain_values_are_used(shell):
    """Any option the cell assigns is read (it was only lr, batch_size, epochs, patience; plain values
    were ignored): clip as a space, accumulate and epochs as plain values."""
    s = shell.run(
        "%%sweep --trials 2 --name anyopt --sampler grid\n"
        + BODY
        + "clip = nbtrain.choice([0.5, 1.0])\naccumulate = 2\nepochs = 1\n"
    )
    assert s.status == "completed"
    clips = set()
    for r in s.rows():
        run = nbtrain.runs[r.run]
        assert run.config["accumulate"] == 2 and run.config["epochs"] == 1 and set(r.params) == {"clip"}
        clips.add(run.config["clip"])
    assert clips == {0.5, 1.0}


@pytest.mark.parametrize(
    "line, extra, words",
    [
        ("--trials 0", "lr = nbtrain.loguniform(1e-3, 1e-1)\n", "trials must be a positive integer"),
        ("--metric val_auc", "lr = nbtrain.loguniform(1e-3, 1e-1)\n", "not a column any run"),
        ("", "epochs = 3\n", "nothing to search"),
        ("", "model = nbtrain.choice([])\n", "empty"),
        ("", "lr = nbtrain.loguniform(0.1, 0.001)\n", "low must be below high"),
        ("--lr 0.01", "lr = nbtrain.loguniform(1e-3, 1e-1)\n", "nothing to search"),  # the line wins
        ("--storage /no/such/folder/s.log", "lr = nbtrain.loguniform(1e-3, 1e-1)\n", "cannot be written"),
        ("--sampler bayes", "lr = nbtrain.loguniform(1e-3, 1e-1)\n", "invalid choice"),
    ],
)
def test_sweep_bad_input_is_one_usage_error(shell, line, extra, words):
    with pytest.raises((UsageError, nbtrain.NbtrainError), match=words):
        shell.run(f"%%sweep {line}\n" + BODY + extra)
    assert not nbtrain.runs


def test_help_lists_the_sweep_and_train_options():
    from nbtrain.magics.tune import TuneMagics

    doc = TuneMagics.sweep.__doc__
    for flag in ("--trials", "--metric", "--sampler", "--prune", "--storage", "--epochs", "--lr", "--batch-size"):
        assert flag in doc
    assert "--start-lr" in TuneMagics.lr_find.__doc__ and "--amp" in TuneMagics.lr_find.__doc__


def test_unload_removes_the_tuning_magics(shell):
    ip = shell.ip
    assert "sweep" in ip.magics_manager.magics["cell"]
    ip.run_line_magic("unload_ext", "nbtrain")
    assert "sweep" not in ip.magics_manager.magics["cell"] and "lr_find" not in ip.magics_manager.magics["cell"]
    ip.run_line_magic("load_ext", "nbtrain")
    assert "sweep" in ip.magics_manager.magics["cell"]
