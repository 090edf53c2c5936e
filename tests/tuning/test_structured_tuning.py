"""lr_find and sweep on structured runs (issue 19 item 6): a dict of inputs (a two-input model), token
ids (EmbeddingBag), a multi-hot target and per-position targets (token tags, masks).  Every trial is a
run of the same kind, its value is its history's best, the metric's direction fits it (f1_micro and
iou are maximised), and the user's module is never changed."""

import numpy as np
import pytest
import torch
from torch import nn

import nbtrain

pytest.importorskip("optuna")
pytestmark = pytest.mark.usefixtures("one_thread")

N = 240
RNG = np.random.default_rng(0)
NUM = RNG.normal(size=(N, 4)).astype(np.float32)
CAT = RNG.integers(0, 5, size=N)
IDS = RNG.integers(0, 20, size=(N, 12))
X = RNG.normal(size=(N, 6)).astype(np.float32)
IMG = RNG.normal(size=(N, 1, 6, 6)).astype(np.float32)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(5, 3), nn.Linear(7, 2)

    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], 1))


class Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.EmbeddingBag(20, 8), nn.Linear(8, 2)

    def forward(self, ids):
        return self.out(self.emb(ids))


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(20, 8), nn.Linear(8, 3)

    def forward(self, ids):
        return self.out(self.emb(ids))


def _tags():
    t = IDS % 3
    t[:, 8:] = -100
    return t


def _mask():
    m = (IMG[:, 0] > 0.3).astype(np.int64)
    m[:, 0, :] = -100
    return m


# name: (data, extra train keywords, a fresh model, sweep metric, its direction, kind of target)
CASES = {
    "dict": (({"num": NUM, "cat": CAT}, ((NUM[:, 0] > 0) | (CAT == 4)).astype(np.int64)), {}, TwoInputs,
             "val_accuracy", "maximize", "label"),
    "token_ids": ((IDS, (IDS[:, 0] > 9).astype(np.int64)), {}, Bag, "val_loss", "minimize", "label"),
    "multihot": ((X, np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0], 1).astype(np.int64)), {"loss": "bce"},
                 lambda: nn.Linear(6, 3), "val_f1_micro", "maximize", "multihot"),
    "tags": ((IDS, _tags()), {}, Tagger, "val_accuracy", "maximize", "positions"),
    "masks": ((IMG, _mask()), {}, lambda: nn.Conv2d(1, 2, 1), "val_iou", "maximize", "positions"),
}  # fmt: skip


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(model, before) -> bool:
    return all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("case", list(CASES))
def test_sweep_on_a_structured_run(case):
    data, kw, make, metric, direction, kind = CASES[case]
    torch.manual_seed(0)
    model = make()
    before = _weights(model)
    s = nbtrain.sweep(
        data, model=model, lr=nbtrain.loguniform(1e-3, 1e-1), trials=3, epochs=2, metric=metric, name=case,
        display="none", **kw,
    )  # fmt: skip
    assert s.status == "completed" and s.direction == direction
    rows = s.rows()
    assert len(rows) == 3 and {r.status for r in rows} == {"completed"}
    pick = max if direction == "maximize" else min
    for r in rows:
        run = nbtrain.runs[r.run]
        assert run.config["target_kind"] == kind
        assert r.value == pytest.approx(pick(run.history[metric]))
    assert s.best_value == pick(r.value for r in rows)
    assert _same(model, before)  # every trial trained its own copy


@pytest.mark.parametrize("case", list(CASES))
def test_lr_find_on_a_structured_run_changes_nothing(case):
    data, kw, make, *_ = CASES[case]
    torch.manual_seed(0)
    model = make()
    before = _weights(model)
    found = nbtrain.lr_find(data, model=model, steps=30, display="none", **kw)
    finding = found.finding
    assert 0 < float(found) < 10 and len(finding.losses) == len(finding.lrs) > 5
    assert all(np.isfinite(finding.losses))
    assert _same(model, before)
    # the ramp's first loss is the untrained model's loss on its first batch (labelled positions only)
    assert finding.losses[0] == pytest.approx(_first_loss(case, data, kw, model), rel=1e-4)


def _first_loss(case, data, kw, model):
    """The model's loss on the first training batch, computed by hand (torch's own losses)."""
    run, job = nbtrain.core.prepare.prepare(data, model=model, name="check", **kw)
    xb, yb = next(iter(job.train_batches.epoch()))
    with torch.no_grad():
        out = run.model(**xb) if isinstance(xb, dict) else run.model(xb)
        if case == "multihot":
            return nn.functional.binary_cross_entropy_with_logits(out, yb.float()).item()
        if case == "tags":
            out = out.movedim(-1, 1)
        return nn.functional.cross_entropy(out, yb, ignore_index=-100).item()


DICT_SETUP = """import numpy as np, torch
from torch import nn
rng = np.random.default_rng(0)
num = rng.normal(size=(240, 4)).astype("float32")
cat = rng.integers(0, 5, size=240)
y = ((num[:, 0] > 0) | (cat == 4)).astype("int64")
ids = rng.integers(0, 20, size=(240, 12))
class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(5, 3), nn.Linear(7, 2)
    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], 1))
class Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.EmbeddingBag(20, 8), nn.Linear(8, 2)
    def forward(self, ids):
        return self.out(self.emb(ids))
"""


def test_sweep_and_lr_find_cells_on_a_dict_of_inputs_and_on_token_ids(shell):
    shell.run(DICT_SETUP)
    s = shell.run(
        "%%sweep --trials 2 --epochs 2 --metric val_accuracy --name dict_cell\n"
        "data = ({'num': num, 'cat': cat}, y)\nmodel = TwoInputs()\nlr = nbtrain.loguniform(1e-3, 1e-1)\n"
    )
    assert s.status == "completed" and list(nbtrain.runs) == ["dict_cell/0", "dict_cell/1"]
    assert nbtrain.runs["dict_cell/0"].config["input_shapes"] is not None
    lr = shell.run("%%lr_find --steps 30\ndata = (ids, (ids[:, 0] > 9).astype('int64'))\nmodel = Bag()\n")
    assert float(lr) > 0
