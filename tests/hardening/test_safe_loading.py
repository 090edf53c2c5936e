"""Promise 1: run files and checkpoints never execute code on load.

Each test plants a live payload (a pickle whose ``__reduce__`` runs ``touch MARKER``, or a skops
node that calls a function at load) in one slot of the format and shows that loading runs
nothing and raises a clear RunFileError.  The control tests prove each payload really is live.
"""

import io
import json
import operator
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from hardening_helpers import one_line_short, rezip, tiny_data, train_small

import nbtrain
from nbtrain import RunFileError


class Evil:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path):
    m = tmp_path / "PWNED"
    yield m
    assert not m.exists() or m.is_file()


def evil_pickle(marker) -> bytes:
    return pickle.dumps({"w": Evil(marker)})


def evil_torch(marker, legacy=False) -> bytes:
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2), "x": Evil(marker)}, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def skops_schema_blob(schema: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    return buf.getvalue()


def skops_call(module: str, func: str, args: list) -> bytes:
    """A skops file whose loader calls ``module.func(*args)`` at load time (ConstructorFromReduceNode)."""

    def s(v):
        return {
            "__class__": "str",
            "__module__": "builtins",
            "__loader__": "JsonNode",
            "content": json.dumps(v),
            "is_json": True,
            "__id__": id(v),
        }

    return skops_schema_blob(
        {
            "__class__": func,
            "__module__": module,
            "__loader__": "ConstructorFromReduceNode",
            "content": {
                "__class__": "tuple",
                "__module__": "builtins",
                "__loader__": "TupleNode",
                "content": [s(a) for a in args],
                "__id__": 1,
            },
            "__id__": 2,
            "protocol": 2,
            "_skops_version": "0.16.0",
        }
    )


# ----------------------------------------------------------------------------- controls


def test_control_the_pickle_payloads_are_live(marker):
    pickle.loads(evil_pickle(marker))
    assert marker.exists(), "the payload must really run when unpickled unsafely"
    marker.unlink()
    torch.load(io.BytesIO(evil_torch(marker)), weights_only=False)
    assert marker.exists(), "the torch payload must really run with weights_only=False"


def test_control_the_skops_payloads_are_live(tmp_path):
    import skops.io as sio

    target = tmp_path / "made_by_skops"
    # an alias of os.makedirs that lives in the sklearn namespace: a "sklearn." prefix rule trusts it
    blob = skops_call("sklearn.datasets._base", "makedirs", [str(target)])
    sio.loads(blob, trusted=["sklearn.datasets._base.makedirs"])
    assert target.is_dir(), "the skops payload must really run when its type is trusted"


# ----------------------------------------------------------------------------- run files

RUN_SLOTS = {
    "weights.pt (torch zip)": lambda m: {"weights.pt": evil_torch(m)},
    "weights.pt (legacy torch)": lambda m: {"weights.pt": evil_torch(m, legacy=True)},
    "weights.pt (raw pickle)": lambda m: {"weights.pt": evil_pickle(m)},
    "meta.json (pickle)": lambda m: {"meta.json": evil_pickle(m)},
    "preprocess.skops (pickle)": lambda m: {"preprocess.skops": evil_pickle(m)},
    "preprocess.skops (torch)": lambda m: {"preprocess.skops": evil_torch(m)},
    "preprocess.skops (os.system call)": lambda m: {"preprocess.skops": skops_call("posix", "system", [f"touch {m}"])},
    "preprocess.skops (sklearn alias of subprocess)": lambda m: {
        "preprocess.skops": skops_call("sklearn.utils._testing", "check_output", [["touch", str(m)]])
    },
    "preprocess.skops (sklearn alias of os.makedirs)": lambda m: {
        "preprocess.skops": skops_call("sklearn.datasets._base", "makedirs", [str(m)])
    },
}


@pytest.mark.parametrize("slot", list(RUN_SLOTS))
def test_malicious_run_file_slot_runs_nothing(slot, saved_run_bytes, marker, tmp_path):
    path = tmp_path / "evil.nbtrain"
    path.write_bytes(rezip(saved_run_bytes, RUN_SLOTS[slot](marker)))
    before = dict(nbtrain.runs)
    with pytest.raises(RunFileError) as err:
        nbtrain.load(path)
    assert not marker.exists(), f"loading a run file with a payload in {slot} executed it"
    msg = str(err.value)
    assert str(path) in msg and one_line_short(msg), msg
    part = slot.split(" ")[0]
    assert part in msg or "meta.json" in msg, msg
    assert dict(nbtrain.runs) == before


def test_skops_refusal_names_the_untrusted_type(saved_run_bytes, marker, tmp_path):
    path = tmp_path / "alias.nbtrain"
    blob = skops_call("sklearn.utils._testing", "check_output", [["touch", str(marker)]])
    path.write_bytes(rezip(saved_run_bytes, {"preprocess.skops": blob}))
    with pytest.raises(RunFileError, match=r"untrusted types sklearn\.utils\._testing\.check_output"):
        nbtrain.load(path)
    assert not marker.exists()


# ----------------------------------------------------------------------------- checkpoints


def _evil_checkpoint(good: bytes, marker, how: str) -> bytes:
    if how == "raw pickle":
        return evil_pickle(marker)
    payload = torch.load(io.BytesIO(good), weights_only=True)
    if how == "in history":
        payload["history"].append({"epoch": Evil(marker)})
    elif how == "in optimizer":
        payload["optimizer"]["state"][0]["extra"] = Evil(marker)
    elif how == "top level":
        payload["evil"] = Evil(marker)
    buf = io.BytesIO()
    torch.save(payload, buf, _use_new_zipfile_serialization=(how != "legacy"))
    if how == "legacy":
        buf = io.BytesIO()
        payload["evil"] = Evil(marker)
        torch.save(payload, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


@pytest.mark.parametrize("how", ["raw pickle", "in history", "in optimizer", "top level", "legacy"])
def test_malicious_checkpoint_runs_nothing(how, checkpoint_bytes, marker, tmp_path):
    path = tmp_path / "ck.pt"
    path.write_bytes(_evil_checkpoint(checkpoint_bytes, marker, how))
    before = dict(nbtrain.runs)
    with pytest.raises(RunFileError) as err:
        train_small(epochs=3, checkpoint=str(path), resume=True)
    assert not marker.exists(), f"resuming from a checkpoint with a payload ({how}) executed it"
    msg = str(err.value)
    assert str(path) in msg and one_line_short(msg), msg
    assert "refused" in msg or "not a readable torch file" in msg, msg
    assert dict(nbtrain.runs) == before, "a refused checkpoint must not register a run"


# ----------------------------------------------------------------------------- trusted types


def test_untrusted_preprocess_type_refused_then_accepted_when_trusted(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    X, y = tiny_data()
    run = nbtrain.train(
        (X, y), model="logistic", preprocess=FunctionTransformer(operator.neg), epochs=2, display="none"
    )
    path = run.save(tmp_path / "neg.nbtrain")
    with pytest.raises(RunFileError) as err:
        nbtrain.load(path)
    msg = str(err.value)
    assert "_operator.neg" in msg and "trusted=" in msg and one_line_short(msg), msg
    loaded = nbtrain.load(path, trusted=["_operator.neg"])
    np.testing.assert_array_equal(loaded.predict(X), run.predict(X))
    # a plain string is accepted as one name
    assert nbtrain.load(path, trusted="_operator.neg").task == "classification"


def test_genuine_run_file_loads_and_predicts_the_same(tmp_path):
    X, y = tiny_data()
    run = train_small()
    loaded = nbtrain.load(run.save(tmp_path / "ok.nbtrain"))
    np.testing.assert_array_equal(loaded.predict(X), run.predict(X))
    assert loaded.history.rows == run.history.rows
    np.testing.assert_array_equal(loaded.classes, run.classes)


@pytest.mark.parametrize("labels", [["a", "b", "c"], [b"x", b"y", b"z"], [True, False, True]])
def test_label_types_round_trip(labels, tmp_path):
    X, _ = tiny_data()
    y = np.array([labels[i % len(labels)] for i in range(len(X))])
    if y.dtype.kind == "b":
        y = y.astype(bool)
    run = nbtrain.train((X, y), model="logistic", epochs=1, display="none")
    loaded = nbtrain.load(run.save(tmp_path / "labels.nbtrain"))
    assert loaded.classes.dtype == run.classes.dtype
    np.testing.assert_array_equal(loaded.predict(X), run.predict(X))


def test_genuine_runs_of_every_kind_load_without_trusting_anything(tmp_path):
    """No false refusals: the presets' own preprocessing, DataFrames with one-hot columns,
    regression with two targets, a Dataset, and a custom module all load with trusted=()."""
    import pandas as pd
    from torch import nn

    X, y = tiny_data(n=40)
    df = pd.DataFrame(X, columns=list("abcd"))
    df["colour"] = np.array(["red", "green"])[np.arange(40) % 2]
    df.loc[3, "a"] = np.nan
    cases = {
        "frame": dict(data=(df, y), preprocess="impute:median | onehot | standardize"),
        "normalize": dict(data=(X, y.astype(str)), preprocess="drop_duplicates | impute | normalize"),
        "regression2": dict(data=(X, np.stack([X[:, 0], X[:, 1]], 1).astype(np.float64)), model="mlp(4)"),
        "dataset": dict(data=torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y)), model="mlp(4)"),
        "custom": dict(data=(X, y), model=nn.Sequential(nn.Linear(4, 3))),
    }
    for name, kw in cases.items():
        data = kw.pop("data")
        run = nbtrain.train(data, epochs=1, display="none", name=name, **kw)
        loaded = nbtrain.load(
            run.save(tmp_path / f"{name}.nbtrain"), model=nn.Sequential(nn.Linear(4, 3)) if name == "custom" else None
        )
        feats = df if name == "frame" else X
        np.testing.assert_array_equal(loaded.predict(feats), run.predict(feats))
