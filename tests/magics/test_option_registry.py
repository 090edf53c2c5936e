"""One place for options: ``train``'s signature, the ``%%train`` flags, the settings, the names a cell may
assign, ``prepare``, ``export`` and the tuning API all agree with ``core/options.py``; a cell's options are
used (the magic line wins, and says so); magic lines are split like a shell line."""

import inspect

import pandas as pd
import pytest
from IPython.core.error import UsageError

import nbtrain
from nbtrain.core import options as registry
from nbtrain.core.errors import ConfigError
from nbtrain.core.options import CELL, CHECKED, FLAGGED, OPTION, OPTIONS, PREPARE
from nbtrain.core.spec import Options
from nbtrain.magics import flags
from nbtrain.magics.core import NbtrainMagics, parse
from nbtrain.magics.declarations import DECLARED
from nbtrain.magics.tune import TuneMagics

IRIS = "from sklearn.datasets import load_iris\ndata = load_iris(return_X_y=True)\n"


# ---------------------------------------------------------------------------- the registry and everything else
def test_train_signature_is_the_registry():
    params = inspect.signature(nbtrain.train).parameters
    assert list(params) == [o.name for o in OPTIONS], "train's signature and core/options.py disagree"
    for o in OPTIONS:
        assert params[o.name].default == o.default, o.name
    positional = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["data", "model", "loss", "optimizer", "preprocess"]


def _actions(func) -> dict:
    return {a.dest: a for a in func.parser._actions}


def test_the_train_flags_are_the_registry():
    actions = _actions(NbtrainMagics.train)
    # --cv is %%train's own: it calls nbtrain.cross_validate instead of train
    assert set(actions) == {o.name for o in FLAGGED} | {"cv"}, "the %%train flags and core/options.py disagree"
    for o in FLAGGED:
        a = actions[o.name]
        assert a.option_strings == [o.flag] and a.default is None, o.name
        if o.sets is not None:
            assert a.nargs == 0 and a.const == o.sets, o.name
        else:
            assert a.nargs is None and tuple(a.choices or ()) == tuple(o.choices or ()), o.name
            assert o.default is None or o.parse is None or o.parse(str(o.default)) == o.default, o.name
    # %%lr_find and %%sweep take every %%train flag
    for magic in (TuneMagics.lr_find, TuneMagics.sweep):
        assert {o.name for o in FLAGGED} <= set(_actions(magic))
    # the help (%%train?) shows each flag with its default
    doc = NbtrainMagics.train.__doc__
    assert all(o.flag in doc for o in FLAGGED) and doc.count("(default:") == len(FLAGGED) + 1  # and --cv


def test_settings_cell_names_prepare_and_options_follow_the_registry():
    traits = NbtrainMagics.class_traits(config=True)
    for o in OPTIONS:
        if o.setting:
            assert traits[o.name].default_value == o.default, o.name
    assert DECLARED == CELL and {"name", "display", "plot"}.isdisjoint(CELL)
    assert {"data", "model", "lr", "epochs", "batch_size", "metrics", "target"} <= set(CELL)
    assert set(PREPARE) == {o.name for o in OPTIONS if o.stage == "prepare"}
    fields = {f for f in Options.__dataclass_fields__}
    assert {o.name for o in CHECKED} | {"name", "precision", "optimizer_name"} == fields
    for o in CHECKED:  # every checked option's default passes its own checker
        o.check(o.default, o.name, registry.defaults())


def test_every_entry_is_well_formed():
    for o in OPTIONS:
        assert o.kind in ("object", "option") and o.stage in ("prepare", "train"), o.name
        assert o.help and "(default" in o.help or o.flag is None, o.name
        assert (o.kind == "option") == (o.check is not None) or o.stage == "train", o.name
        if o.flag:
            assert o.flag.startswith("--") and (o.sets is None or o.parse is None), o.name


def test_an_unknown_option_is_an_error_with_a_suggestion_everywhere(small_iris):
    with pytest.raises(ConfigError, match="unknown option 'epoch'; did you mean epochs"):
        nbtrain.lr_find(small_iris, epoch=3)
    with pytest.raises(ConfigError, match="unknown option 'batchsize'; did you mean batch_size"):
        nbtrain.core.prepare.prepare(small_iris, batchsize=3)
    export = pytest.importorskip("nbtrain.distributed.export")
    with pytest.raises(ConfigError, match="unknown option 'epoch'"):
        export.export("/nonexistent/x.nbtrain", small_iris, epoch=3)
    with pytest.raises(ConfigError, match="unknown option 'display'"):  # a view option is not the worker's
        export.export("/nonexistent/x.nbtrain", small_iris, display="none")


def test_export_and_prepare_take_every_prepare_option():
    export = pytest.importorskip("nbtrain.distributed.export").export
    own = {"path", "processes", "backend", "name", "options"}
    assert set(inspect.signature(export).parameters) - own <= set(PREPARE)
    assert registry.collect({k: OPTION[k].default for k in PREPARE}) == registry.defaults()


@pytest.fixture(scope="module")
def small_iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


# ---------------------------------------------------------------------------- options in the cell (issue 23, 2)
def test_options_the_cell_assigns_are_used(shell, capsys):
    run = shell.run("%%train --name cellopts\n" + IRIS + "lr = 0.05\nepochs = 3\nbatch_size = 16\nseed = 4\n")
    assert len(run.history) == 3 and run.config["lr"] == 0.05 and run.config["batch_size"] == 16
    assert run.config["seed"] == 4
    assert "wins over" not in capsys.readouterr().out  # nothing disagreed: nothing to say
    run = shell.run("%%train\n" + IRIS + "target = None\nval, test = 0.3, 0.1\nmetrics = 'f1'\npatience = 5\n")
    assert (run.config["val"], run.config["test"], run.config["patience"]) == (0.3, 0.1, 5)
    assert "val_f1" in run.history and "val_accuracy" not in run.history
    run = shell.run("%%train --epochs 1\n" + IRIS + "lr = 'auto'\n")  # as --lr auto: the finder picks it
    assert run.config["lr"] > 0 and run.config["lr"] != 0.001


def test_the_magic_line_wins_and_one_line_says_so(shell, capsys):
    run = shell.run("%%train --epochs 2 --lr 0.01\n" + IRIS + "lr = 0.05\nepochs = 50\nbatch_size = 16\n")
    assert len(run.history) == 2 and run.config["lr"] == 0.01 and run.config["batch_size"] == 16
    said = [ln for ln in capsys.readouterr().out.splitlines() if "wins over" in ln]
    assert said == [
        "%%train: --epochs 2 on the magic line wins over epochs = 50 in the cell.",
        "%%train: --lr 0.01 on the magic line wins over lr = 0.05 in the cell.",
    ]
    shell.run("%%train --epochs 1 --quiet\n" + IRIS + "epochs = 50\n")  # --quiet: nothing is said
    assert "wins over" not in capsys.readouterr().out


def test_the_cell_wins_over_the_settings(shell):
    shell.run("%config NbtrainMagics.epochs = 5")
    assert len(shell.run("%%train\n" + IRIS + "epochs = 2\n").history) == 2
    assert len(shell.run("%%train\n" + IRIS).history) == 5


def test_names_a_cell_binds_for_itself_are_not_options(shell):
    # a loop variable `name`, IPython's `display`: never the run's name or the display
    run = shell.run(
        "%%train --epochs 1\n" + IRIS + "from IPython.display import display\n"
        "for name in ['a', 'b']:\n    pass\nplot = 3\n"
    )
    assert run.name != "b" and run.status == "completed"


def test_a_bad_option_in_the_cell_is_one_usage_error(shell):
    with pytest.raises(UsageError, match="epochs must be a positive integer"):
        shell.run("%%train\n" + IRIS + "epochs = 0\n")
    # a variable the cell means as something else: one sentence naming it, and how to keep it
    cells = {
        "target": "import pandas as pd\ndf = pd.DataFrame({'a': range(9), 'b': range(9)})\n"
        "target = df.pop('a')\ndata = (df, target)\n",
        "checkpoint": IRIS + "checkpoint = {'model': None}\n",
        "test": IRIS + "test = data\n",
    }
    for key, cell in cells.items():
        with pytest.raises(UsageError, match=rf"the cell assigns {key}, an option of %%train: {key} must be .*"
                           "Rename the variable if it is not meant as the option"):  # fmt: skip
            shell.run("%%train\n" + cell)
    assert not nbtrain.runs


# ---------------------------------------------------------------------------- quotes (issue 23, 2)
def test_quotes_group_and_are_removed(shell):
    df = pd.DataFrame({"a": range(40), "b": [i % 5 for i in range(40)], "segment": ["x", "y"] * 20})
    shell.ns["df"] = df
    run = shell.run('%%train --data df --target "segment" --name "my run" --lr "1e-3" --epochs 1\n# df\n')
    assert run.name == "my run" and run.config["target"] == "segment" and run.config["lr"] == 1e-3
    assert "my run" in nbtrain.runs
    run = shell.run("%%train --data df --target 'segment' --name 'it''s' --epochs 1\n# df\n")
    assert run.name == "its"
    assert shell.run('%evaluate "my run"')["accuracy"] >= 0
    assert shell.run("%predict 'my run' df[['a', 'b']].head(3)").shape == (3,)
    shell.run('%compare "my run" its')
    with pytest.raises(UsageError, match="check the quotes"):
        shell.run('%%train --name "my run --epochs 1\n' + IRIS)
    with pytest.raises(UsageError, match="quote is not closed"):
        shell.run("%predict 'my run df")


def test_the_split_keeps_backslashes_and_quoted_words():
    assert flags.split_line(r'--checkpoint C:\runs\a.pt --name "a b"') == [
        "--checkpoint",
        r"C:\runs\a.pt",
        "--name",
        "a b",
    ]
    args = parse(NbtrainMagics.train, r"--checkpoint 'D:\my runs\x.pt' --classes 'cat, dog'", "%%train")
    assert args.checkpoint == r"D:\my runs\x.pt" and args.classes == "cat, dog"
    assert flags.first_word('"my run" X[:, "a b"]') == ("my run", 'X[:, "a b"]')


def test_the_split_keeps_a_bracketed_python_expression_whole():
    # `%evaluate NAME --data EXPR`: quotes and spaces inside brackets are Python's, not the line's
    # (a plain shell split turned new['segment'] into new[segment])
    words = flags.split_line("churn --data (new.drop(columns=['segment']), new['segment']) --metrics 'accuracy,f1'")
    assert words == ["churn", "--data", "(new.drop(columns=['segment']), new['segment'])", "--metrics", "accuracy,f1"]
