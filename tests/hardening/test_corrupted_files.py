"""Promise 2: a truncated, zero-byte, wrong-format or wrong-version run file or checkpoint gives a
specific RunFileError that names the file and says what is wrong with it."""

import io
import json
import zipfile

import pytest
import torch
from hardening_helpers import one_line_short, rezip, train_small

import nbtrain
from nbtrain import RunFileError


def _meta(good: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        return json.loads(z.read("meta.json"))


def _with_meta(good: bytes, **changes) -> bytes:
    meta = _meta(good)
    meta.update(changes)
    return rezip(good, {"meta.json": json.dumps(meta).encode()})


def _flip_member_byte(good: bytes, name: str) -> bytes:
    """Corrupt one byte inside a stored member's compressed data (the zip directory stays valid)."""
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        info = z.getinfo(name)
    data = bytearray(good)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    pos = start + info.compress_size // 2
    data[pos] ^= 0xFF
    return bytes(data)


def _state_list() -> bytes:
    buf = io.BytesIO()
    torch.save([torch.zeros(3)], buf)
    return buf.getvalue()


# name -> (make bytes from the good file, words the message must contain)
RUN_CASES = {
    "zero-byte": (lambda g: b"", "empty"),
    "truncated-half": (lambda g: g[: len(g) // 2], "truncated"),
    "truncated-tail": (lambda g: g[:-10], "truncated"),
    "text file": (lambda g: b"hello, this is not a run\n", "not an nbtrain run file"),
    "png": (lambda g: b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not an nbtrain run file"),
    "empty zip": (
        lambda g: rezip(g, drop=("meta.json", "weights.pt", "preprocess.skops")),
        "meta.json or weights.pt is missing",
    ),
    "no weights": (lambda g: rezip(g, drop=("weights.pt",)), "missing"),
    "meta not json": (lambda g: rezip(g, {"meta.json": b"{not json"}), "meta.json is not valid JSON"),
    "meta a list": (lambda g: rezip(g, {"meta.json": b"[1, 2]"}), "wrong format marker"),
    "wrong format": (lambda g: _with_meta(g, format="something-else"), "wrong format marker"),
    "newer version": (lambda g: _with_meta(g, version=99), "newer nbtrain"),
    "old version": (lambda g: _with_meta(g, version=0), "version 0"),
    "version missing": (lambda g: _with_meta(g, version=None), "version None"),
    "bad task": (lambda g: _with_meta(g, task="poetry"), "meta.json is malformed"),
    "config not dict": (lambda g: _with_meta(g, config=[1]), "meta.json is malformed"),
    "bad input_shape": (lambda g: _with_meta(g, config=dict(_meta(g)["config"], input_shape="x")), "input_shape"),
    "bad history": (lambda g: _with_meta(g, history=[{"epoch": {"nested": 1}}]), "history is malformed"),
    "bad classes": (lambda g: _with_meta(g, classes={"dtype": "V8", "values": [1]}), "label classes"),
    "weights truncated": (lambda g: rezip(g, {"weights.pt": rezip_bytes_weights(g)[:100]}), "weights.pt"),
    "weights not a state_dict": (lambda g: rezip(g, {"weights.pt": _state_list()}), "not a model state_dict"),
    "weights are text": (lambda g: rezip(g, {"weights.pt": b"plain text"}), "weights.pt"),
    "preprocess damaged": (
        lambda g: rezip(g, {"preprocess.skops": b"PK\x03\x04garbage"}),
        "preprocess.skops is damaged",
    ),
    "bit flip in weights": (lambda g: _flip_member_byte(g, "weights.pt"), "weights.pt is damaged"),
}


def rezip_bytes_weights(g: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(g)) as z:
        return z.read("weights.pt")


@pytest.mark.parametrize("case", list(RUN_CASES))
def test_corrupted_run_file(case, saved_run_bytes, tmp_path):
    make, words = RUN_CASES[case]
    path = tmp_path / "bad.nbtrain"
    path.write_bytes(make(saved_run_bytes))
    with pytest.raises(RunFileError) as err:
        nbtrain.load(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    assert words in msg, msg
    assert one_line_short(msg), msg


def test_missing_and_folder_run_file(tmp_path):
    with pytest.raises(RunFileError, match="no run file at"):
        nbtrain.load(tmp_path / "nope.nbtrain")
    with pytest.raises(RunFileError, match="is a folder"):
        nbtrain.load(tmp_path)


def test_checkpoint_given_to_load_is_named_as_such(checkpoint_bytes, tmp_path):
    path = tmp_path / "ck.nbtrain"
    path.write_bytes(checkpoint_bytes)
    with pytest.raises(RunFileError, match="perhaps a checkpoint.*resume=True"):
        nbtrain.load(path)


# ----------------------------------------------------------------------------- checkpoints


def _ck_with(good: bytes, **changes) -> bytes:
    payload = torch.load(io.BytesIO(good), weights_only=True)
    for k, v in changes.items():
        if v is KeyError:
            payload.pop(k)
        else:
            payload[k] = v
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def _plain_torch() -> bytes:
    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buf)
    return buf.getvalue()


CKPT_CASES = {
    "zero-byte": (lambda g: b"", "empty"),
    "truncated-half": (lambda g: g[: len(g) // 2], "truncated or damaged"),
    "truncated-tail": (lambda g: g[:-10], "truncated or damaged"),
    "text file": (lambda g: b"not a checkpoint at all", "not a readable torch file"),
    "json": (lambda g: b'{"format": "nbtrain-checkpoint"}', "not a readable torch file"),
    "plain state_dict": (lambda g: _plain_torch(), "not an nbtrain checkpoint"),
    "newer version": (lambda g: _ck_with(g, version=7), "newer nbtrain"),
    "old version": (lambda g: _ck_with(g, version=0), "version 0"),
    "no model": (lambda g: _ck_with(g, model=KeyError), "model"),
    "no rng": (lambda g: _ck_with(g, rng=KeyError), "random-number state"),
    "bad epoch": (lambda g: _ck_with(g, epoch="2"), "epoch"),
    "bad history": (lambda g: _ck_with(g, history=[1, 2]), "history is malformed"),
    "bad rng bytes": (
        lambda g: _ck_with(
            g, rng={"torch": torch.zeros(3, dtype=torch.uint8), "batches": torch.zeros(3, dtype=torch.uint8)}
        ),
        "random-number state",
    ),
}


@pytest.mark.parametrize("case", list(CKPT_CASES))
def test_corrupted_checkpoint(case, checkpoint_bytes, tmp_path):
    make, words = CKPT_CASES[case]
    path = tmp_path / "ck.pt"
    path.write_bytes(make(checkpoint_bytes))
    before = dict(nbtrain.runs)
    with pytest.raises(RunFileError) as err:
        train_small(epochs=3, checkpoint=str(path), resume=True)
    msg = str(err.value)
    assert str(path) in msg, msg
    assert words in msg, msg
    assert one_line_short(msg), msg
    assert dict(nbtrain.runs) == before


def test_checkpoint_of_a_different_run_is_refused(checkpoint_bytes, tmp_path):
    path = tmp_path / "ck.pt"
    path.write_bytes(checkpoint_bytes)
    with pytest.raises(RunFileError, match="different run .*model"):
        train_small(model="mlp(16)", epochs=3, checkpoint=str(path), resume=True)


def test_genuine_checkpoint_resumes(checkpoint_bytes, tmp_path):
    path = tmp_path / "ck.pt"
    path.write_bytes(checkpoint_bytes)
    run = train_small(epochs=3, checkpoint=str(path), resume=True)
    assert run.status == "completed" and [r["epoch"] for r in run.history] == [1.0, 2.0, 3.0]
