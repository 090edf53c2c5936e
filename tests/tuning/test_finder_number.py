"""The learning-rate finder's suggestion is a number: str/repr, ``%%train --lr $best``, ``lr = best``."""

import pickle

import pytest

import nbtrain
from nbtrain.display.tune import LRSuggestion

BODY = 'data = load_digits(return_X_y=True)\npreprocess = "standardize"\nmodel = "mlp(32)"\n'


def test_best_from_the_finder_cell_trains_through_the_flag_and_the_cell(shell):
    shell.run("%%lr_find --steps 40\n" + BODY)
    shell.run("best = _")  # what a user does with the finder's output
    best = shell.ns["best"]
    assert isinstance(best, LRSuggestion) and best > 0
    # the number, in full: the flag's text reads back as exactly the same float
    assert str(best) == repr(best) == repr(float(best)) and float(str(best)) == float(best)
    assert f"{best}" == str(best)
    run = shell.run("%%train --epochs 1 --lr $best --name via_flag\n" + BODY)
    assert run.config["lr"] == float(best) and type(run.config["lr"]) is float
    run = shell.run("%%train --epochs 1 --name via_cell\n" + BODY + "lr = best\n")
    assert run.config["lr"] == float(best)


def test_the_finder_output_ends_with_the_line_to_use_it(small_digits):
    lr = nbtrain.lr_find(small_digits, model="mlp(32)", preprocess="standardize", steps=40)
    text = lr._repr_mimebundle_(include={"text/plain"})["text/plain"]
    assert text.startswith(f"lr_find: suggested lr {float(lr):.3g}")
    last = text.splitlines()[-1]
    assert "best = _" in last and "%%train --lr $best" in last and "lr = best" in last
    # IPython's text/plain of the output is the text (its float printer would show only the number)
    from IPython.core.formatters import PlainTextFormatter

    assert PlainTextFormatter()(lr) == text
    run = nbtrain.train(small_digits, model="mlp(32)", preprocess="standardize", lr=lr, epochs=1, display="none")
    assert run.config["lr"] == float(lr) and type(run.config["lr"]) is float
    assert pickle.loads(pickle.dumps(lr)) == float(lr)


@pytest.mark.parametrize("value", ["0.01", "'0.01'", '"1e-3"'])
def test_lr_in_the_cell_or_quoted_on_the_line(shell, value):
    if value[0] in "'\"":
        run = shell.run(f"%%train --epochs 1 --lr {value}\n" + BODY)
    else:
        run = shell.run("%%train --epochs 1\n" + BODY + f"lr = {value}\n")
    assert run.config["lr"] == float(value.strip("'\""))
