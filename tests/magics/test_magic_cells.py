"""What a %%train cell declares, and how mistakes, user exceptions and interrupts look."""

import re

import pytest
import torch
from IPython.core.error import UsageError

import nbtrain
from nbtrain.magics.declarations import assigned_names

IRIS = "from sklearn.datasets import load_iris\ndata = load_iris(return_X_y=True)\n"


def test_assigned_names_covers_python_binding_forms():
    src = (
        "data = data\nmodel: str = 'mlp'\nloss, (optimizer, x) = 1, (2, 3)\nfor scheduler in []: pass\n"
        "import numpy as metrics\nfrom os import path as callbacks\ndef preprocess(a=val_data): pass\n"
        "class test_data: pass\nwith open('f') as fh: pass\ny = [z for z in range(3)]\n"
        "w = lambda q: q\nif (k := 1): pass\ntry: pass\nexcept Exception as err: pass\nn += 1\n"
    )
    assert assigned_names(src) == {
        "data",
        "model",
        "loss",
        "optimizer",
        "x",
        "scheduler",
        "metrics",
        "callbacks",
        "preprocess",
        "test_data",
        "fh",
        "y",
        "w",
        "k",
        "err",
        "n",
    }
    assert assigned_names("def f():\n    model = 1\nclass C:\n    loss = 2\n") == {"f", "C"}
    assert assigned_names("x = (") is None
    assert assigned_names("model.x = 1\nloss[0] = 2\nprint(data)") == set()


def test_stale_model_from_an_earlier_cell_is_never_used(shell):
    shell.run("model = 'mlp(64, 64)'\nloss = 'hinge'\nmetrics = 'auc'")
    run = shell.run("%%train --epochs 1\n" + IRIS)
    assert run.config["model"] == "logistic" and run.config["loss"] == "cross_entropy"
    assert isinstance(shell.ns["model"], torch.nn.Module) and shell.ns["loss"] == "hinge"


def test_same_object_reassigned_counts_as_declared(shell):
    shell.run("import torch\nnet = torch.nn.Sequential(torch.nn.Linear(4, 3))\nopt = 'sgd(momentum=0.9)'")
    run = shell.run("%%train --epochs 1\n" + IRIS + "model = net\noptimizer = opt")
    assert run.model is shell.ns["net"] and run.config["optimizer"].startswith("sgd")
    # model is now the trained Module; declaring it again with itself trains it again
    run2 = shell.run("%%train --epochs 1\n" + IRIS + "model = model")
    assert run2.model is shell.ns["net"]
    # assignments the AST cannot see are caught by identity
    run3 = shell.run("%%train --epochs 1\n" + IRIS + "globals()['model'] = 'mlp(5)'")
    assert run3.config["model"].startswith("mlp")


def test_declarations_reach_train(shell):
    cell = (
        IRIS + "from sklearn.model_selection import train_test_split\nimport nbtrain\n"
        "X, y = data\nX, Xt, y, yt = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)\n"
        "data = (X[:70], y[:70])\nval_data = (X[70:], y[70:])\ntest_data = (Xt, yt)\n"
        "preprocess = 'standardize'\nmodel = 'mlp(8)'\nloss = 'cross_entropy'\noptimizer = 'adam'\n"
        "metrics = ['accuracy', 'precision']\nscheduler = 'cosine'\n"
        "class Count(nbtrain.Callback):\n    n = 0\n    def on_epoch_end(self, run, epoch, logs, **kw):\n"
        "        Count.n += 1\ncallbacks = [Count()]\n"
    )
    run = shell.run("%%train --epochs 2 --lr 0.01\n" + cell)
    assert shell.ns["Count"].n == 2 and "val_precision" in run.history
    assert len(run.predictions("test")["y_true"]) == 45 and len(run.predictions("val")["y_true"]) == 35
    # the magic line and the cell both set metrics: the line wins (tests/magics/test_option_registry.py)
    run = shell.run("%%train --epochs 1 --metrics f1\n" + IRIS + "metrics = 'auc'")
    assert "val_f1" in run.history and "val_auc" not in run.history


def test_user_mistakes_are_short_usage_errors(shell):
    shell.run("%%train --epochs 1 --name keep\n" + IRIS)
    before = dict(nbtrain.runs)
    shell.run("sentinel = 42")
    cases = [
        ("%%train --epochz 3\n" + IRIS, "did you mean --epochs"),
        ("%%train --epochs three\n" + IRIS, "invalid int value"),
        ("%%train --amp fp8\n" + IRIS, "invalid choice"),
        ("%%train --epochs 0\n" + IRIS, "epochs"),
        ("%%train\nx = 1", "did not assign `data`.*--data data"),
        ("%%train\ndata = (1,\n", "syntax error"),
        ("%%train --name 'oops\n" + IRIS, "closing quotation"),
        ("%%train\n" + IRIS + "model = 'mlpp(8)'", "did you mean 'mlp'"),
        ("%%train\n" + IRIS + "loss = 'bce'", "bce"),
        ("%%train --metrics r2\n" + IRIS, "r2"),
        ("%%train --device cuda:7\n" + IRIS, "cuda")
        if not torch.cuda.is_available()
        else ("%%train --val 2\n" + IRIS, "val"),
    ]
    for cell, pattern in cases:
        with pytest.raises(UsageError, match=pattern) as info:
            shell.run(cell)
        msg = str(info.value)
        assert "\n" not in msg.strip() and len(msg) < 400, msg
    assert dict(nbtrain.runs) == before and shell.ns["sentinel"] == 42


def test_exception_in_user_code_keeps_its_type_and_traceback(shell, capsys):
    shell.run("%%train --epochs 1 --name keep\n" + IRIS)
    with pytest.raises(ZeroDivisionError):
        shell.run("%%train\nkept = 'yes'\n" + IRIS + "1/0")
    assert shell.ns["kept"] == "yes" and list(nbtrain.runs) == ["keep"]
    shell.ip.run_cell("%%train\nkept = 1\n1/0")  # what the user sees
    err = capsys.readouterr()
    text = re.sub(r"\x1b\[[0-9;]*m", "", err.out + err.err)
    assert "ZeroDivisionError" in text and "----> 2 1/0" in text
    assert "nbtrain/magics" not in text  # our frames are hidden
    # an exception raised by the user's model during training: the run is kept as failed
    bad = (
        "import torch\nclass Bad(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.l = torch.nn.Linear(4, 3)\n        self.n = 0\n    def forward(self, x):\n"
        "        self.n += 1\n        if self.n > 3:\n            raise RuntimeError('boom')\n"
        "        return self.l(x)\n"
    )
    with pytest.raises(RuntimeError, match="boom"):
        shell.run("%%train --epochs 2 --name bad\n" + IRIS + bad + "model = Bad()")
    assert nbtrain.runs["bad"].status == "failed" and nbtrain.runs["keep"].status == "completed"


def test_keyboard_interrupt_stops_the_run_and_the_shell_goes_on(shell):
    stopper = (
        "import nbtrain\nclass Ctrl(nbtrain.Callback):\n"
        "    def on_batch_end(self, run, epoch, batch, num_batches, **kw):\n"
        "        if epoch == 2 and batch == 1:\n            raise KeyboardInterrupt\n"
        "callbacks = [Ctrl()]\n"
    )
    run = shell.run("%%train --epochs 50 --name ctrl\n" + IRIS + stopper)
    assert run.status == "stopped" and len(run.history) == 1 and shell.ns["model"] is run.model
    # an interrupt outside the loop's batch boundaries (here: in on_fit_start) ends it the same way
    early = (
        "import nbtrain\nclass Early(nbtrain.Callback):\n"
        "    def on_fit_start(self, run, **kw):\n        raise KeyboardInterrupt\ncallbacks = [Early()]\n"
    )
    run2 = shell.run("%%train --epochs 5 --name early\n" + IRIS + early)
    assert run2.status == "stopped" and nbtrain.runs["early"] is run2
    assert shell.run("1 + 1") == 2 and nbtrain.runs["ctrl"].status == "stopped"


def test_declared_reads_assigned_or_rebound_names_only():
    from nbtrain.magics.declarations import declared, snapshot, stale

    obj = object()
    ns = {"data": obj, "model": "old", "loss": "mse"}
    before = snapshot(ns)
    src = "data = data\ndel loss\nx = 1"
    del ns["loss"]
    ns["x"] = 1
    ns["optimizer"] = "sgd"  # bound behind the AST's back (e.g. via globals())
    assert declared(ns, src, before) == {"data": obj, "optimizer": "sgd"}
    assert stale(ns, src, before) == ["model"]
