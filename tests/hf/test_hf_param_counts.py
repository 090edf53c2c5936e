"""Trainable / total parameters (issue 20 item 3) in the live panel and %runs: under freeze=, at the
epoch unfreeze_at= turns them back on, and with peft LoRA (checked against peft's own count)."""

import numpy as np
import pytest
import torch
from hf_helpers import sentiment_dict, tiny_bert
from torch import nn

import nbtrain
from nbtrain.core.finetune import params_text
from nbtrain.display.evaluation import runs_table

W = pytest.importorskip("ipywidgets")
from nbtrain.display.panel import PanelView  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


BODY, HEAD = 4 * 8 + 8, 8 * 2 + 2


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


class Titles(nbtrain.Callback):
    """The panel's title (and the config's count) as each epoch ends."""

    def __init__(self, view):
        self.view, self.seen = view, []

    def on_epoch_end(self, run, epoch, **kw):
        self.seen.append((self.view.title.value, run.config["trainable_params"]))


def test_the_panel_shows_the_count_and_it_changes_at_unfreeze_at():
    view = PanelView(display=False)
    titles = Titles(view)
    run = nbtrain.train(
        _data(), model=Net(), freeze="body", unfreeze_at=3, epochs=3, callbacks=[view, titles], display="none"
    )
    total = BODY + HEAD
    assert [n for _, n in titles.seen] == [HEAD, HEAD, total]
    assert f"{HEAD} / {total} trainable" in titles.seen[0][0] and f"{HEAD} / {total} trainable" in titles.seen[1][0]
    assert f"{total} params" in titles.seen[2][0] and "trainable" not in titles.seen[2][0]
    assert run.config["total_params"] == total


def test_runs_shows_params_where_something_is_frozen():
    plain = nbtrain.train(_data(), model=Net(), epochs=1, display="none", name="plain")
    frozen = nbtrain.train(_data(), model=Net(), freeze="body", epochs=1, display="none", name="frozen")
    assert "params" not in repr(runs_table([plain])).splitlines()[1].split()  # as before: no column
    lines = repr(runs_table([plain, frozen])).splitlines()
    header = lines[1].split()
    assert header[:4] == ["name", "when", "model", "params"]
    assert f"{BODY + HEAD} params" in lines[2] and f"{HEAD} / {BODY + HEAD} trainable" in lines[3]


def test_lora_counts_are_peft_s_own(tokenizer):
    peft = pytest.importorskip("peft", reason="LoRA needs peft (pip install 'nbtrain[hf]')")
    base = tiny_bert(tokenizer)
    model = peft.get_peft_model(
        base, peft.LoraConfig(r=4, target_modules=["query", "value"], modules_to_save=["classifier"])
    )
    trainable, total = model.get_nb_trainable_parameters()
    run = nbtrain.train(sentiment_dict(tokenizer, n=100), model=model, epochs=1, lr=1e-3, display="none")
    assert (run.config["trainable_params"], run.config["total_params"]) == (trainable, total)
    assert trainable < total and "trainable" in run.summary()["params"]


def test_sizes_are_short():
    assert params_text({"trainable_params": 1_234_567, "total_params": 4_400_000}) == "1.23 M / 4.4 M trainable"
    assert params_text({"trainable_params": 52, "total_params": 52}) == "52 params"
    assert params_text({}) == ""
