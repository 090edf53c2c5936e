"""processes=N with a dict of inputs (issue 19 item 6): the ranks shard every entry of the batch and
train the same model as one process."""

import numpy as np
import pytest
import torch
from dist_helpers import max_weight_diff
from torch import nn

import nbtrain

pytestmark = pytest.mark.timeout(120)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(5, 3), nn.Linear(7, 2)

    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], 1))


def test_two_ranks_on_a_dict_of_inputs_match_one_process():
    rng = np.random.default_rng(0)
    num = rng.normal(size=(90, 4)).astype(np.float32)
    cat = rng.integers(0, 5, size=90)
    y = ((num[:, 0] > 0) | (cat == 4)).astype(np.int64)
    runs = []
    for processes in (None, 2):
        torch.manual_seed(0)
        runs.append(
            nbtrain.train(
                ({"num": num, "cat": cat}, y), model=TwoInputs(), optimizer="sgd(momentum=0.9)", lr=0.1,
                epochs=3, batch_size=8, display="none", processes=processes,
            )
        )  # fmt: skip
    one, two = runs
    assert two.status == "completed" and two.config["processes"] == 2
    assert two.history["val_loss"] == pytest.approx(one.history["val_loss"], rel=1e-4)
    assert max_weight_diff(one.model, two.model) < 1e-4


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(20, 8), nn.Linear(8, 3)

    def forward(self, ids):
        return self.out(self.emb(ids))


def test_two_ranks_validate_multi_hot_and_per_position_targets_as_one_process():
    """The ranks' validation takes the kind of target: multi-hot metrics (f1_micro, subset accuracy),
    labelled positions only (rank 0 used to score multi-hot rows as one label a row, and failed)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0], 1).astype(np.int64)
    ids = rng.integers(0, 20, size=(120, 6))
    tags = ids % 3
    tags[:, 4:] = -100
    cases = [((X, Y), dict(loss="bce", model="mlp(8)")), ((ids, tags), dict(model=Tagger))]
    for data, kw in cases:
        runs = []
        for processes in (None, 2):
            torch.manual_seed(0)
            model = kw["model"]() if isinstance(kw["model"], type) else kw["model"]
            runs.append(
                nbtrain.train(
                    data, **{**kw, "model": model}, optimizer="sgd", lr=0.1, epochs=2, batch_size=16,
                    display="none", processes=processes,
                )
            )  # fmt: skip
        one, two = runs
        assert two.status == "completed", two.error
        assert set(two.history.last) == set(one.history.last)
        for key in one.history.last:
            if key.startswith("val_"):
                assert two.history[key] == pytest.approx(one.history[key], rel=1e-4), key


@pytest.mark.parametrize("accumulate", [1, 2])
def test_two_ranks_weigh_per_position_losses_by_labelled_positions_as_one_process(accumulate):
    """Rows with different numbers of -100 (sentences of different lengths): a batch's loss is the mean
    over its labelled positions, so each rank's shard weighs by its share of them (by rows, the two ranks
    drifted from one process by ~5e-3 in the weights after two epochs)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, size=(200, 10))
    tags = ids % 3
    for i, n in enumerate(rng.integers(1, 11, size=200)):
        tags[i, n:] = -100
    runs = []
    for processes in (None, 2):
        torch.manual_seed(0)
        runs.append(
            nbtrain.train(
                (ids, tags), model=Tagger(), optimizer="sgd", lr=0.1, epochs=2, batch_size=16,
                accumulate=accumulate, display="none", processes=processes,
            )
        )  # fmt: skip
    one, two = runs
    assert two.status == "completed", two.error
    assert max_weight_diff(one.model, two.model) < 1e-5
    assert two.history["train_loss"] == pytest.approx(one.history["train_loss"], rel=1e-5)
    assert two.history["val_loss"] == pytest.approx(one.history["val_loss"], rel=1e-5)
