"""%%train in a real IPython shell: declarations, every option, errors, interrupts."""

import pytest
import torch
from IPython.core.error import UsageError

import nbtrain
from nbtrain.core.options import FLAGGED
from nbtrain.magics.core import NbtrainMagics

IRIS = "from sklearn.datasets import load_iris\ndata = load_iris(return_X_y=True)\n"


@pytest.fixture
def spy(monkeypatch):
    """Records the keyword arguments %%train passes to nbtrain.train (and still trains)."""
    calls = []
    real = nbtrain.api.train

    def train(*args, **kw):
        calls.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(nbtrain.api, "train", train)
    return calls


def test_load_unload_and_load_twice(shell):
    ip = shell.ip
    assert ip.find_cell_magic("train") is not None
    for name in ("evaluate", "predict", "runs", "compare", "train_panel"):
        assert ip.find_line_magic(name) is not None, name
    nbtrain.load_ipython_extension(ip)  # a second load is harmless: one settings object
    assert sum(isinstance(c, NbtrainMagics) for c in ip.configurables) == 1
    ip.run_line_magic("unload_ext", "nbtrain")
    assert ip.find_cell_magic("train") is None and ip.find_line_magic("evaluate") is None
    assert not any(isinstance(c, NbtrainMagics) for c in ip.configurables)
    with pytest.raises(UsageError, match="not found"):
        shell.run("%%train\n" + IRIS)
    ip.run_line_magic("load_ext", "nbtrain")
    assert ip.find_cell_magic("train") is not None


def test_help_shows_every_option_and_default(shell):
    doc = shell.ip.find_cell_magic("train").__doc__
    assert "%%train [--epochs EPOCHS]" in doc
    for opt in (
        "--epochs",
        "--batch-size",
        "--lr",
        "--name",
        "--device",
        "--seed",
        "--val",
        "--test",
        "--metrics",
        "--patience",
        "--amp",
        "--compile",
        "--clip",
        "--clip-value",
        "--accumulate",
        "--tf32",
        "--no-plot",
        "--quiet",
        "--checkpoint",
        "--resume",
        "--target",
        "--data",
        "--processes",
        "--workers",
        "--steps-per-epoch",
        "--task",
        "--classes",
        "--data-device",
        "--restore-best",
    ):
        assert opt in doc, opt
    options = [line for line in doc.split("options:")[1].splitlines() if line.strip().startswith("--")]
    # every flag of core/options.py, each with its default, and %%train's own --cv
    assert len(options) == len(FLAGGED) + 1 >= 31
    assert doc.count("(default:") == len(FLAGGED) + 1
    for magic in ("evaluate", "predict", "compare"):
        assert "(default:" in shell.ip.find_line_magic(magic).__doc__ or magic == "predict"


def test_train_cell_returns_registers_and_keeps_model(shell):
    run = shell.run("%%train --epochs 3 --name iris\n" + IRIS + "preprocess = 'standardize'\nmodel = 'mlp(16)'\n")
    assert isinstance(run, nbtrain.Run) and run.status == "completed"
    assert nbtrain.runs["iris"] is run and shell.ns["_"] is run
    assert shell.ns["model"] is run.model and isinstance(run.model, torch.nn.Module)
    assert run.config["model"].startswith("mlp") and run.config["preprocess"] == "standardize"
    assert len(run.history) == 3
    shell.run("r = _")
    assert shell.ns["r"] is run
    # default names count up
    assert shell.run("%%train --epochs 1\n" + IRIS).name == "run1"
    assert shell.run("%%train --epochs 1\n" + IRIS).name == "run2"


def test_every_option_reaches_train(shell, spy, tmp_path):
    ck = tmp_path / "ck.pt"
    shell.run(
        f"%%train --epochs 2 --batch-size 16 --lr 0.05 --name opts --device cpu --seed 3 --val 0.25 "
        f"--test 0.15 --metrics accuracy,auc --patience 4 --checkpoint {ck}\n" + IRIS
    )
    kw = spy[-1]
    assert {
        k: kw[k]
        for k in (
            "epochs",
            "batch_size",
            "lr",
            "name",
            "device",
            "seed",
            "val",
            "test",
            "metrics",
            "patience",
            "checkpoint",
        )
    } == dict(
        epochs=2,
        batch_size=16,
        lr=0.05,
        name="opts",
        device="cpu",
        seed=3,
        val=0.25,
        test=0.15,
        metrics="accuracy,auc",
        patience=4,
        checkpoint=str(ck),
    )
    run = nbtrain.runs["opts"]
    assert "val_auc" in run.history and ck.exists()
    assert run.config["batch_size"] == 16 and run.config["lr"] == 0.05
    # --resume continues from the checkpoint
    run2 = shell.run(
        f"%%train --epochs 3 --name opts2 --device cpu --seed 3 --val 0.25 --test 0.15 "
        f"--metrics accuracy,auc --lr 0.05 --batch-size 16 --checkpoint {ck} --resume\n" + IRIS
    )
    assert spy[-1]["resume"] is True and len(run2.history) == 3
    assert run2.history["train_loss"][:2] == run.history["train_loss"]
    # flags and defaults
    shell.run("%%train --epochs 1 --quiet\n" + IRIS)
    # options neither the line nor the cell gives are left to train's defaults
    assert spy[-1]["display"] == "none" and "processes" not in spy[-1] and "compile" not in spy[-1]
    shell.run("%%train --epochs 1 --no-plot\n" + IRIS)
    assert spy[-1]["plot"] is False and spy[-1]["display"] != "console"  # the configured display, minus the plot
    assert "amp" not in spy[-1] and "target" not in spy[-1]


def test_amp_compile_and_processes_are_passed_through(shell, monkeypatch):
    seen = {}

    def fake_train(processes=None, **kw):
        seen.update(kw, processes=processes)
        return nbtrain.Run(kw["name"], torch.nn.Linear(1, 1), task="regression", config={})

    monkeypatch.setattr(nbtrain.api, "train", fake_train)
    shell.run("%%train --amp bf16 --compile --processes 2\n" + IRIS)
    assert seen["amp"] == "bf16" and seen["compile"] is True and seen["processes"] == 2
    shell.run("%%train --clip 0.5 --accumulate 4 --tf32\n" + IRIS)
    assert (seen["clip"], seen["accumulate"], seen["tf32"]) == (0.5, 4, True) and "clip_value" not in seen
    seen.clear()
    shell.run("%%train --clip-value 0.1\n" + IRIS)
    assert seen["clip_value"] == 0.1 and not {"clip", "accumulate", "tf32"} & seen.keys()


def test_clip_and_accumulate_from_a_cell(shell):
    run = shell.run("%%train --epochs 2 --clip 1.0 --accumulate 2 --name acc\n" + IRIS)
    assert run.status == "completed" and run.config["clip"] == 1.0 and run.config["accumulate"] == 2
    with pytest.raises(UsageError, match="accumulate must be a positive integer"):
        shell.run("%%train --accumulate 0\n" + IRIS)


def test_settings_are_traitlets_and_validated(shell, spy):
    ip = shell.ip
    ip.run_line_magic("config", "NbtrainMagics.epochs = 2")
    ip.run_line_magic("config", "NbtrainMagics.batch_size = 8")
    ip.run_line_magic("config", "NbtrainMagics.device = 'CPU'")
    magics = next(c for c in ip.configurables if isinstance(c, NbtrainMagics))
    for bad in ("epochs = 0", "batch_size = -1", "device = 'gpu'", "display = 'fancy'", "epochs = 'ten'"):
        ip.run_line_magic("config", "NbtrainMagics." + bad)  # %config prints the error, keeps the value
    assert (magics.epochs, magics.batch_size, magics.device, magics.display) == (2, 8, "cpu", "none")
    run = shell.run("%%train\n" + IRIS)
    assert len(run.history) == 2 and spy[-1]["batch_size"] == 8 and spy[-1]["device"] == "cpu"
    assert spy[-1]["display"] == "none"
    shell.run("%%train --epochs 1\n" + IRIS)  # an option overrides the setting
    assert spy[-1]["epochs"] == 1
    for trait in ("epochs", "batch_size", "device", "display", "seed"):
        t = NbtrainMagics.class_traits(config=True)[trait]
        assert t.help, trait


def test_seed_makes_runs_repeat(shell):
    a = shell.run("%%train --epochs 2 --seed 5\n" + IRIS + "model = 'mlp(8)'")
    b = shell.run("%%train --epochs 2 --seed 5\n" + IRIS + "model = 'mlp(8)'")
    c = shell.run("%%train --epochs 2 --seed 6\n" + IRIS + "model = 'mlp(8)'")
    assert a.history["train_loss"] == b.history["train_loss"] != c.history["train_loss"]


def test_console_output_when_not_quiet(shell, capsys):
    shell.ip.run_line_magic("config", "NbtrainMagics.display = 'console'")
    shell.run("%%train --epochs 2 --name loud\n" + IRIS)
    out = capsys.readouterr().out
    assert "loud" in out and "completed" in out
    shell.run("%%train --epochs 2 --name hush --quiet\n" + IRIS)
    assert "hush" not in capsys.readouterr().out.replace("Run('hush'", "")


def test_dataframe_with_target_and_data_option(shell):
    pd = pytest.importorskip("pandas")
    shell.ns["df"] = pd.DataFrame(
        {"a": range(60), "b": [i % 7 for i in range(60)], "label": ["x" if i < 30 else "y" for i in range(60)]}
    )
    run = shell.run("%%train --data df --target label --epochs 2\n# train on df\n")
    assert run.task == "classification" and set(run.classes) == {"x", "y"}
    run2 = shell.run("%%train --data frame --target label --epochs 1\nframe = df.copy()\n")
    assert run2.task == "classification"
    with pytest.raises(UsageError, match="no variable 'dff'.*did you mean --data df"):
        shell.run("%%train --data dff --target label\n# x\n")
    with pytest.raises(UsageError, match="use one of them"):
        shell.run("%%train --data df --target label\ndata = df\n")


def test_data_options_reach_train_and_a_notebook_dataset_trains_with_workers(shell, spy, tmp_path):
    """--workers, --classes, --task, --steps-per-epoch, --data-device; a Dataset class defined in a cell
    (module __main__) trains with DataLoader workers on Linux (fork); a CSV path is data."""
    import multiprocessing

    cell = (
        "%%train --epochs 1 --quiet --name ds --workers {w} --classes 2 --val 0 --test 0\n"
        "import torch\n"
        "class Cells(torch.utils.data.Dataset):\n"
        "    def __len__(self): return 64\n"
        "    def __getitem__(self, i): return torch.full((3,), float(i % 2)), i % 2\n"
        "data = Cells()\n"
        "model = 'mlp(4)'\n"
    )
    w = 2 if multiprocessing.get_start_method() == "fork" else 0
    run = shell.run(cell.format(w=w))
    assert run.status == "completed" and spy[-1]["workers"] == w and spy[-1]["classes"] == "2"
    assert run.config["n_classes"] == 2
    with pytest.raises(UsageError, match="workers must be a whole number"):
        shell.run("%%train --quiet --workers -1\n" + IRIS)
    with pytest.raises(UsageError, match="steps_per_epoch"):
        shell.run("%%train --quiet --steps-per-epoch 0\n" + IRIS)
    shell.run("%%train --quiet --epochs 1 --task regression --data-device cpu\n" + IRIS)
    assert spy[-1]["task"] == "regression" and spy[-1]["data_device"] == "cpu"
    import pandas as pd
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.to_csv(tmp_path / "iris.csv", index=False)
    run = shell.run(f"%%train --quiet --epochs 1 --target target\ndata = {str(tmp_path / 'iris.csv')!r}\n")
    assert run.status == "completed" and pd is not None
