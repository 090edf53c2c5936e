import pytest

from nbtrain.core.errors import PresetError
from nbtrain.core.presets import Preset, parse_preset, split_pipeline


def test_plain_name_and_call():
    assert parse_preset("adam") == Preset("adam")
    p = parse_preset("mlp(64, 32, dropout=0.1, activation=gelu)")
    assert p.name == "mlp" and p.args == (64, 32) and p.kwargs == {"dropout": 0.1, "activation": "gelu"}
    assert str(p) == "mlp(64, 32, dropout=0.1, activation='gelu')"


def test_colon_shorthand_and_negative_numbers():
    assert parse_preset("impute:median") == Preset("impute", ("median",))
    assert parse_preset("sgd(lr=-1)").kwargs == {"lr": -1}
    assert parse_preset("cnn((8, 16))").args == ((8, 16),)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "os.system('x')",
        "mlp(__import__('os'))",
        "mlp(64, dropout=open('x'))",
        "(lambda: 1)()",
        "mlp(**{'a': 1})",
        "mlp(64)[0]",
        "a.b",
    ],
)
def test_code_is_never_evaluated(text, tmp_path):
    with pytest.raises(PresetError):
        parse_preset(text)


@pytest.mark.parametrize("text", ["", "   ", "mlp(", "mlp)64(", "impute:", "x" * 600, "1+2"])
def test_malformed(text):
    with pytest.raises(PresetError) as e:
        parse_preset(text)
    assert len(str(e.value).splitlines()) == 1


def test_non_string():
    with pytest.raises(PresetError):
        parse_preset(3)


def test_split_pipeline():
    assert split_pipeline("impute:median | standardize") == ["impute:median", "standardize"]
    with pytest.raises(PresetError):
        split_pipeline("standardize || onehot")
