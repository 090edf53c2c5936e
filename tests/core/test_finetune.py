"""Fine-tuning any nn.Module (issue 20 item 3): freeze= by patterns or "body", unfreeze_at=, frozen
parameters without optimizer state, learning rates by parameter-name pattern."""

import numpy as np
import pytest
import torch
from torch import nn

import nbtrain
from nbtrain.core.errors import ConfigError


class Spy(torch.optim.Adam):
    """Adam that remembers its instances, to look at its groups and state."""

    made: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        Spy.made.append(self)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.body(x))


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)


class Watch(nbtrain.Callback):
    """Copies of the body's first weight and which parameters have optimizer state, after each epoch."""

    def __init__(self, model):
        self.model, self.weights, self.stated = model, [], []

    def on_epoch_end(self, run, epoch, logs, **kw):
        self.weights.append(self.model.body[0].weight.detach().clone())
        names = {id(p): n for n, p in self.model.named_parameters()}
        self.stated.append(sorted(names[id(p)] for p in Spy.made[-1].state))


def test_freeze_body_trains_only_the_head_and_frozen_parameters_get_no_state():
    torch.manual_seed(0)
    model = Net()
    before = model.body[0].weight.detach().clone()
    head_before = model.head.weight.detach().clone()
    watch = Watch(model)
    run = nbtrain.train(_data(), model=model, optimizer=Spy, freeze="body", epochs=2, callbacks=[watch], display="none")
    assert torch.equal(model.body[0].weight, before)
    assert not torch.equal(model.head.weight, head_before)
    assert watch.stated[-1] == ["head.bias", "head.weight"]
    want = sum(p.numel() for p in model.head.parameters())
    assert run.config["trainable_params"] == want
    assert run.config["total_params"] == sum(p.numel() for p in model.parameters())


def test_unfreeze_at_trains_the_body_from_that_epoch_and_its_state_starts_then():
    torch.manual_seed(0)
    model = Net()
    before = model.body[0].weight.detach().clone()
    watch = Watch(model)
    nbtrain.train(
        _data(), model=model, optimizer=Spy, freeze=["body.0.*"], unfreeze_at=3, epochs=4, callbacks=[watch],
        display="none",
    )  # fmt: skip
    assert torch.equal(watch.weights[0], before) and torch.equal(watch.weights[1], before)
    assert not torch.equal(watch.weights[2], before)
    assert "body.0.weight" not in watch.stated[1] and "body.2.weight" in watch.stated[1]
    assert "body.0.weight" in watch.stated[2]


def test_lr_by_pattern_makes_one_group_each_and_the_first_match_wins():
    torch.manual_seed(0)
    model = Net()
    run = nbtrain.train(
        _data(), model=model, optimizer=Spy, lr={"head.*": 1e-2, "body.2.*": 1e-3, "body.*": 1e-4}, epochs=1,
        display="none",
    )  # fmt: skip
    groups = Spy.made[-1].param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    got = [(g["lr"], sorted(names[id(p)] for p in g["params"])) for g in groups]
    assert got == [
        (1e-2, ["head.bias", "head.weight"]),
        (1e-3, ["body.2.bias", "body.2.weight"]),
        (1e-4, ["body.0.bias", "body.0.weight"]),
    ]
    assert run.config["lr_groups"] == {"head.*": 1e-2, "body.2.*": 1e-3, "body.*": 1e-4}
    assert run.history.last["lr"] == pytest.approx(1e-2)


def test_onecycle_acts_on_every_group_with_its_own_peak():
    torch.manual_seed(0)
    nbtrain.train(_data(), model=Net(), optimizer=Spy, lr={"head.*": 1e-2, "*": 1e-4}, scheduler="onecycle",
                  epochs=2, display="none")  # fmt: skip
    groups = Spy.made[-1].param_groups
    assert [g["max_lr"] for g in groups] == [1e-2, 1e-4]


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(lr={"head.*": 1e-2}), "parameter 'body.0.weight' matches none of the lr patterns"),
        (dict(lr={"*": 1e-2, "head.*": 1e-3}), "lr pattern 'head.\\*' matches no parameter"),
        (dict(lr={"*": -1.0}), "must be a positive number"),
        (dict(freeze="encoder.*"), "freeze pattern 'encoder.\\*' matches no parameter; the model has body.0.weight"),
        (dict(freeze="*"), "freeze names every parameter"),
        (dict(unfreeze_at=2), "give freeze= too"),
        (dict(freeze="body", unfreeze_at=9), "after the last epoch"),
        (dict(freeze="body", unfreeze_at=1), "2 or later"),
    ],
)
def test_fine_tuning_mistakes_are_one_sentence_before_training(kw, match):
    model = Net()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ConfigError, match=match):
        nbtrain.train(_data(60), model=model, epochs=2, display="none", **kw)
    assert all(p.requires_grad for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_body_needs_a_separate_head():
    with pytest.raises(ConfigError, match="has no separate head"):
        nbtrain.train(_data(60), model=nn.Linear(4, 3), freeze="body", epochs=1, display="none")
