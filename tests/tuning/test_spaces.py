"""Search spaces: bad bounds are errors when made; spaces are found and replaced inside train's arguments."""

import pytest
import torch

import nbtrain
from nbtrain.core.tune.space import find_spaces, substitute


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: nbtrain.loguniform(0, 1), "positive"),
        (lambda: nbtrain.loguniform(-1e-3, 1e-1), "positive"),
        (lambda: nbtrain.loguniform(1e-1, 1e-4), "low must be below high"),
        (lambda: nbtrain.uniform(0.5, 0.5), "low must be below high"),
        (lambda: nbtrain.uniform(0.0, float("nan")), "finite number"),
        (lambda: nbtrain.intrange(5, 1), "low must not be above high"),
        (lambda: nbtrain.intrange(1, 5, step=0), "step"),
        (lambda: nbtrain.intrange(1.5, 5), "integer"),
        (lambda: nbtrain.choice([]), "empty"),
        (lambda: nbtrain.choice("adam"), "list of values"),
    ],
)
def test_bad_spaces_are_one_clear_error(make, words):
    with pytest.raises(nbtrain.ConfigError, match=words):
        make()


def test_sizes_and_grids():
    assert nbtrain.intrange(1, 9, step=4).grid() == [1, 5, 9]
    assert nbtrain.choice(["a", "b"]).size == 2
    assert nbtrain.loguniform(1e-4, 1e-1).size is None
    with pytest.raises(nbtrain.ConfigError, match="grid sampler needs discrete"):
        nbtrain.loguniform(1e-4, 1e-1).grid()


def test_choices_of_objects_are_stored_by_label():
    c = nbtrain.choice([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.optim.SGD, "mlp(8)", None])
    assert c.labels == ["Linear#0", "Linear#1", "SGD", "mlp(8)", "None"]
    assert c.value_of("SGD") is torch.optim.SGD


def test_spaces_are_found_one_level_down_and_replaced():
    lr, pre = nbtrain.loguniform(1e-4, 1e-1), nbtrain.choice(["standardize", "normalize"])
    kwargs = {"lr": lr, "preprocess": ["impute", pre], "epochs": 3, "model": "mlp(8)"}
    assert find_spaces(kwargs) == {"lr": lr, "preprocess[1]": pre}
    out = substitute(kwargs, {"lr": 0.01, "preprocess[1]": "normalize"})
    assert out == {"lr": 0.01, "preprocess": ["impute", "normalize"], "epochs": 3, "model": "mlp(8)"}
    assert kwargs["preprocess"][1] is pre  # the declaration is untouched


def test_a_module_and_its_optimizer_are_copied_together():
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    out = substitute({"model": net, "optimizer": opt}, {})
    assert out["model"] is not net and out["optimizer"] is not opt
    copied = {id(p) for p in out["model"].parameters()}
    assert all(id(p) in copied for g in out["optimizer"].param_groups for p in g["params"])
    assert torch.equal(out["model"].weight, net.weight)
