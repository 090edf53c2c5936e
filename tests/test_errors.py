"""Every user mistake raises an NbtrainError with one specific sentence, before training, registry untouched."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

import nbtrain
from nbtrain.core.device import resolve_device

X = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
Y = np.arange(60) % 3
XN = X.copy()
XN[3, 1] = np.nan


class WrongIn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(7, 3)

    def forward(self, x):
        return self.lin(x)


CASES = [
    (dict(data=None), nbtrain.DataError, "no data"),
    (dict(data=(X, Y[:50])), nbtrain.DataError, "must match"),
    (dict(data=(X[:0], Y[:0])), nbtrain.DataError, "empty"),
    (dict(data=(XN, Y)), nbtrain.DataError, "impute"),
    (dict(data=(X, Y), model="mpl(3)"), nbtrain.PresetError, "did you mean 'mlp'"),
    (dict(data=(X, Y), optimizer="adma"), nbtrain.PresetError, "did you mean 'adam'"),
    (dict(data=(X, Y), loss="crossentropy"), nbtrain.PresetError, "did you mean 'cross_entropy'"),
    (dict(data=(X, Y), preprocess="standardise"), nbtrain.PresetError, "did you mean 'standardize'"),
    (dict(data=(X, Y), model="mlp(64"), nbtrain.PresetError, "malformed"),
    (dict(data=(X, Y), lr=0), nbtrain.ConfigError, "positive"),
    (dict(data=(X, Y), lr=-0.1), nbtrain.ConfigError, "positive"),
    (dict(data=(X, Y), epochs=0), nbtrain.ConfigError, "epochs"),
    (dict(data=(X, Y), batch_size=-1), nbtrain.ConfigError, "batch_size"),
    (dict(data=(X, Y), val=0.5, test=0.5), nbtrain.ConfigError, "no training data"),
    (dict(data=(X, Y), val=1.5), nbtrain.ConfigError, "fraction"),
    (dict(data=(X, Y), model=WrongIn()), nbtrain.ShapeError, "input size"),
    (dict(data=(X, Y), model=torch.nn.Linear(4, 2)), nbtrain.ShapeError, "3 classes"),
    (dict(data=(X, Y), loss="bce"), nbtrain.ShapeError, "two classes"),
    (dict(data=(X, Y), metrics="r2"), nbtrain.ConfigError, "does not fit"),
    (dict(data=(X, Y.astype(float) + 0.5), metrics="accuracy"), nbtrain.ConfigError, "does not fit"),
    (dict(data={"a": 1}), nbtrain.DataTypeError, "unsupported"),
    (dict(data=(X, Y), model=3), nbtrain.DataTypeError, "model must be"),
    (dict(data=(X, Y), display="fancy"), nbtrain.ConfigError, "display"),
    (dict(data=(X, Y), amp="fp8"), nbtrain.ConfigError, "amp"),
    (dict(data=(X, Y), device="tpu"), nbtrain.ConfigError, "device"),
    (dict(data=(X, np.array(["a"] * 60))), nbtrain.DataError, "two classes"),
    (dict(data=(X, np.array(["a", "b", "c"] * 20)), loss="mse"), nbtrain.DataError, "numeric targets"),
]


@pytest.mark.parametrize("kwargs,exc,text", CASES, ids=[c[2] for c in CASES])
def test_user_mistakes(kwargs, exc, text):
    earlier = nbtrain.train((X, Y), epochs=1, display="none", name="earlier")
    snapshot = dict(nbtrain.runs)
    kwargs = dict(kwargs)
    data = kwargs.pop("data")
    with pytest.raises(exc) as info:
        nbtrain.train(data, epochs=kwargs.pop("epochs", 1), display=kwargs.pop("display", "none"), **kwargs)
    msg = str(info.value)
    assert text in msg
    assert len(msg.splitlines()) == 1 and len(msg) < 300
    assert isinstance(info.value, nbtrain.NbtrainError)
    assert isinstance(info.value, (ValueError, TypeError, RuntimeError))
    assert dict(nbtrain.runs) == snapshot and nbtrain.runs["earlier"] is earlier
    assert earlier.status == "completed" and len(earlier.history) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu():
    with pytest.raises(nbtrain.DeviceError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(nbtrain.DeviceError):
        nbtrain.train((X, Y), device="cuda", display="none")


def test_auto_device_is_cpu_here():
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")


def test_name_reuse_replaces_only_after_validation():
    a = nbtrain.train((X, Y), epochs=1, display="none", name="same")
    with pytest.raises(nbtrain.PresetError):
        nbtrain.train((X, Y), model="nope", epochs=1, display="none", name="same")
    assert nbtrain.runs["same"] is a
    b = nbtrain.train((X, Y), epochs=1, display="none", name="same")
    assert nbtrain.runs["same"] is b


@pytest.mark.parametrize("bad", [3, "early_stop", object()])
def test_callbacks_of_the_wrong_type(bad):
    with pytest.raises(nbtrain.DataTypeError, match="callbacks"):
        nbtrain.train((X, Y), epochs=1, display="none", callbacks=bad)


class _Silent(torch.nn.Module):
    """A model whose forward raises an exception with no message (a bare ``raise ValueError()``)."""

    def __init__(self, exc):
        super().__init__()
        self.w = torch.nn.Linear(4, 3)
        self.exc = exc

    def forward(self, x):
        raise self.exc


@pytest.mark.parametrize("exc", [ValueError(), RuntimeError(""), IndexError("\n\n")])
def test_a_model_raising_an_empty_message_names_its_exception_type(exc):
    # before: str(exc).splitlines()[0] raised IndexError from nbtrain's own code
    with pytest.raises(nbtrain.ShapeError) as err:
        nbtrain.train(load_iris(return_X_y=True), model=_Silent(exc), epochs=1, display="none")
    assert type(exc).__name__ in str(err.value) and "the model failed on a batch" in str(err.value)


def test_a_model_error_quotes_only_its_first_line():
    with pytest.raises(nbtrain.ShapeError) as err:
        nbtrain.train(load_iris(return_X_y=True), model=_Silent(ValueError("bad width\nsecond line")), display="none")
    assert "ValueError: bad width" in str(err.value) and "second line" not in str(err.value)
