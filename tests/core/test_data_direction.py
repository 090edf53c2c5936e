"""The data path has one direction: adapt -> clean -> labels -> split -> preprocess -> batches.

``prepare`` runs under ``sys.setprofile`` for every kind of source; each call of a module-level
function of a stage module is recorded with its stage.  The stages must come in order, never
re-entered after a later one started (methods of the objects a stage hands on -- a Table's ``take``,
a codec's ``encode`` -- belong to the object, not to a stage; vocabulary modules such as
``forms``, ``declared``, ``batch``, ``targets`` and the shared-copy cache ``placement`` are no stage).
A call from a later stage back into an earlier one fails the test and names both.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from nbtrain.core.prepare import prepare

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="tells methods apart by co_qualname (3.11+)")

#: module (under nbtrain.core) -> stage, in the order the data must go
STAGES = {
    "sources": 0,
    "clean": 1,
    "labels": 2,
    "splits": 3,
    "preprocess": 4,
    "tensor_batches": 5,
    "sparse": 5,
    "datasets": 5,
}
NAMES = ["adapt", "clean", "labels", "split", "preprocess", "batches"]


def _stage(module: str):
    name = module.removeprefix("nbtrain.core.")
    return STAGES.get(name.split(".")[0]) if name != module else None


def _qualname(code) -> str:
    """``Table.take`` for a method; a function's own name, its nested helpers and lambdas included."""
    return code.co_qualname.replace(".<locals>.", "").replace("<lambda>", "")


def trace_stages(fn) -> list:
    """``[(stage, "module.function")]`` in call order, consecutive repeats collapsed."""
    seen: list = []

    def profile(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        stage = _stage(frame.f_globals.get("__name__", ""))
        if stage is None or code.co_filename.startswith("<") or "." in _qualname(code):
            return  # no stage, or a method of an object handed along the path (dataclass ones included)
        if not seen or seen[-1][0] != stage:
            seen.append((stage, f"{frame.f_globals['__name__'].removeprefix('nbtrain.core.')}.{code.co_name}"))

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return seen


def backward_steps(seq) -> list:
    """The calls that entered a stage earlier than one already reached, with the one reached."""
    out, top = [], (-1, "")
    for stage, where in seq:
        if stage < top[0]:
            out.append(f"{where} ({NAMES[stage]}) after {top[1]} ({NAMES[top[0]]})")
        elif stage > top[0]:
            top = (stage, where)
    return out


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(10, 3), nn.Linear(7, 3)

    def forward(self, num, cat):
        return self.out(torch.cat([num, self.emb(cat)], 1))


class ByName(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        return self.out(x)


def _kinds(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 4)).astype(np.float32)
    y = np.repeat([0, 1, 2], 30)
    df = pd.DataFrame(X, columns=list("abcd")).assign(t=y)
    csv = tmp_path / "d.csv"
    df.to_csv(csv, index=False)
    ds = torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y))

    class Dicts(torch.utils.data.Dataset):
        def __len__(self):
            return 90

        def __getitem__(self, i):
            return {"x": torch.tensor(X[i]), "labels": int(y[i])}

    return {
        "arrays": dict(data=(X, y), model="mlp(8)", preprocess="dropna | standardize"),
        "arrays + val_data": dict(data=(X, y), val_data=(X[:20], y[:20]), model="mlp(8)"),
        "dataframe": dict(data=df, target="t", preprocess="standardize"),
        "file": dict(data=str(csv), target="t"),
        "dict of arrays": dict(data=({"num": X, "cat": rng.integers(0, 10, 90)}, y), model=TwoInputs()),
        "scipy sparse": dict(data=(sp.random(90, 30, density=0.1, format="csr", random_state=0), y)),
        "torch Dataset": dict(data=ds, model="mlp(8)"),
        "Dataset of dicts": dict(data=Dicts(), model=ByName()),
    }


IDS = [
    "arrays",
    "arrays + val_data",
    "dataframe",
    "file",
    "dict of arrays",
    "scipy sparse",
    "torch Dataset",
    "Dataset of dicts",
    "Hugging Face Dataset",
]


@pytest.mark.parametrize("kind", IDS)
def test_prepare_goes_one_way(kind, tmp_path):
    if kind == "Hugging Face Dataset":
        datasets = pytest.importorskip("datasets")
        rows = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
        kw = dict(data=datasets.Dataset.from_dict({"x": rows, "label": np.arange(60) % 3}), model=ByName())
    else:
        kw = _kinds(tmp_path)[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seq = trace_stages(lambda: prepare(name="r", epochs=1, **kw))
    assert backward_steps(seq) == [], f"{kind}: the data went back: {backward_steps(seq)}"
    reached = {NAMES[s] for s, _ in seq}
    assert {"adapt", "labels", "split", "batches"} <= reached, (kind, seq)
    if kind not in ("torch Dataset", "Dataset of dicts", "Hugging Face Dataset"):
        assert "preprocess" in reached, (kind, seq)


def test_the_check_fails_on_a_step_back():
    """The check itself can fail: a later stage calling an earlier one is reported."""
    from nbtrain.core import labels, sources, splits

    def back_and_forth():
        t = sources.adapt((np.zeros((10, 2)), np.arange(10) % 2))
        splits.split(t, 0.2, 0, True, "test")
        labels.infer_task(t.y)  # labels after the split: a step back

    assert backward_steps(trace_stages(back_and_forth)) == ["labels.infer_task (labels) after splits.split (split)"]
