"""Everything downstream on runs with structured inputs and other targets (issue 19 item 6):
checkpoint and exact resume, save/load, the run store, data_device, accumulate, clip, AMP,
early stopping, lr_find."""

import numpy as np
import pytest
import torch
from torch import nn

import nbtrain

N = 240


def _x():
    rng = np.random.default_rng(0)
    num = rng.normal(size=(N, 4)).astype(np.float32)
    cat = rng.integers(0, 5, size=N)
    return {"num": num, "cat": cat}, ((num[:, 0] > 0) | (cat == 4)).astype(np.int64)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(5, 3), nn.Linear(7, 2)

    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], 1))


OPTS = dict(epochs=4, accumulate=2, clip=1.0, patience=3, monitor="val_accuracy", display="none", lr=0.05)


def _fresh():
    torch.manual_seed(0)
    return TwoInputs()


def test_checkpoint_and_exact_resume_with_a_dict_of_arrays(tmp_path):
    x, y = _x()
    full = nbtrain.train((x, y), model=_fresh(), name="full", **OPTS)
    ck = tmp_path / "ck.pt"
    nbtrain.train((x, y), model=_fresh(), name="part", checkpoint=str(ck), **{**OPTS, "epochs": 2})
    resumed = nbtrain.train((x, y), model=_fresh(), name="res", checkpoint=str(ck), resume=True, **OPTS)
    assert resumed.history["val_loss"] == pytest.approx(full.history["val_loss"], rel=1e-6)
    assert resumed.history["train_loss"] == pytest.approx(full.history["train_loss"], rel=1e-6)


def test_data_device_cpu_gives_the_same_run_as_on_the_device():
    x, y = _x()
    a = nbtrain.train((x, y), model=_fresh(), data_device="cpu", **OPTS)
    b = nbtrain.train((x, y), model=_fresh(), data_device="device", **OPTS)
    assert a.history["val_loss"] == pytest.approx(b.history["val_loss"], rel=1e-6)


def test_save_and_load_keep_the_structure_and_the_kind_of_target(tmp_path):
    x, y = _x()
    run = nbtrain.train((x, y), model=_fresh(), **OPTS)
    back = nbtrain.load(run.save(tmp_path / "two"), model=TwoInputs())
    new = {"num": x["num"][:9], "cat": x["cat"][:9]}
    assert np.array_equal(back.predict(new), run.predict(new))
    with pytest.raises(nbtrain.NbtrainError, match="several inputs"):
        back.predict(x["num"][:3])
    # multi-hot and per-position runs come back as what they were
    Y = np.stack([x["num"][:, 0] > 0, x["cat"] == 4], 1).astype(np.int64)
    ml = nbtrain.train((x["num"], Y), loss="bce", model="mlp(8)", epochs=2, display="none")
    ml_back = nbtrain.load(ml.save(tmp_path / "ml"))
    assert np.array_equal(ml_back.predict(x["num"][:5]), ml.predict(x["num"][:5]))
    assert ml_back.predict(x["num"][:5]).shape == (5, 2)


def test_amp_touches_floating_inputs_only_and_lr_find_runs():
    x, y = _x()
    seen = []

    class Check(TwoInputs):
        def forward(self, num, cat):
            seen.append(cat.dtype)
            return super().forward(num, cat)

    run = nbtrain.train((x, y), model=Check(), amp="bf16", epochs=1, display="none")
    assert run.status == "completed" and set(seen) == {torch.int64}
    found = nbtrain.lr_find((x, y), model=TwoInputs(), display="none", steps=20)
    assert float(found) > 0 and len(found.finding.losses) == 20


def test_runs_with_structured_inputs_reach_the_run_store(tmp_path):
    x, y = _x()
    nbtrain.runs.use_store(str(tmp_path / "store"))
    try:
        nbtrain.train((x, y), model=_fresh(), name="stored_two", epochs=2, display="none")
        stored = nbtrain.runs.stored("stored_two")
        assert stored is not None and len(stored.history) == 2
        Y = np.stack([x["num"][:, 0] > 0, x["cat"] == 4], 1).astype(np.int64)
        ml = nbtrain.train((x["num"], Y), loss="bce", model="mlp(8)", name="stored_ml", epochs=2, display="none")
        got = ml.evaluate()
        # a stored multi-label run gives back its own metrics by name
        assert nbtrain.runs.stored("stored_ml").evaluate(metrics="f1_micro") == {"f1_micro": got["f1_micro"]}
    finally:
        nbtrain.runs.use_store("")
