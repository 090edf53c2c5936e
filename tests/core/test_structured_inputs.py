"""Inputs of any structure and the dtype rule (issue 19 items 1, 2, 7): tuples and dicts of arrays in
memory, Datasets of (x, y) with structured x or of dict items, the recursive mover, model(x) /
model(*x) / model(**x), integer inputs kept for token ids."""

import collections
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

import nbtrain
from nbtrain.core import batch
from nbtrain.core.errors import DataError, NbtrainError, ShapeError

N = 240


def _data(seed=0):
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(N, 4)).astype(np.float32)
    cat = rng.integers(0, 5, size=N)
    y = ((num[:, 0] > 0) | (cat == 4)).astype(np.int64)
    return num, cat, y


class Seen:
    """What the model was called with (positional count, keyword names, dtypes)."""

    def __init__(self):
        self.calls = []


class TwoInputs(nn.Module):
    """A numeric input plus a categorical one through an embedding: forward(num, cat)."""

    def __init__(self, seen=None):
        super().__init__()
        self.emb, self.lin, self.seen = nn.Embedding(5, 3), nn.Linear(7, 2), seen

    def forward(self, num, cat):
        if self.seen is not None:
            self.seen.calls.append((num.dtype, cat.dtype, tuple(num.shape), tuple(cat.shape)))
        return self.lin(torch.cat([num, self.emb(cat)], 1))


def test_a_dict_of_arrays_trains_as_model_of_keywords_and_keeps_integer_ids():
    num, cat, y = _data()
    seen = Seen()
    run = nbtrain.train(({"num": num, "cat": cat}, y), model=TwoInputs(seen), epochs=3, display="none", lr=0.05)
    assert run.status == "completed" and len(run.history) == 3
    assert {c[:2] for c in seen.calls} == {(torch.float32, torch.int64)}
    assert all(c[2][1:] == (4,) and len(c[3]) == 1 for c in seen.calls)
    # every split is there, and predict takes the same structure
    assert set(run._splits) == {"train", "val", "test"}
    pred = run.predict({"num": num[:7], "cat": cat[:7]})
    assert pred.shape == (7,) and set(pred) <= {0, 1}
    assert run.predict_proba({"num": num[:3], "cat": cat[:3]}).shape == (3, 2)
    assert 0.0 <= run.evaluate()["accuracy"] <= 1.0


def test_a_tuple_of_arrays_is_model_of_positional_inputs_and_the_splits_match_the_array_path():
    num, cat, y = _data()
    both = nbtrain.train(((num, cat), y), model=TwoInputs(), epochs=1, display="none")
    assert both.status == "completed"
    # the split rows are the ones one array would give: the same seeded, stratified split
    one = nbtrain.train((num, y), model="logistic", epochs=1, display="none")
    assert torch.equal(both._splits["test"].y.cpu(), one._splits["test"].y.cpu())
    assert torch.equal(both._splits["test"].X[0].cpu(), one._splits["test"].X.cpu())


def test_val_and_test_data_and_a_nested_dict():
    num, cat, y = _data()

    class Nested(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = TwoInputs()

        def forward(self, feats, cat):
            return self.inner(feats["num"], cat)

    x = {"feats": {"num": num}, "cat": cat}
    part = {"feats": {"num": num[:40]}, "cat": cat[:40]}
    run = nbtrain.train(
        (x, y), model=Nested(), val_data=(part, y[:40]), test_data=(part, y[:40]), epochs=2, display="none"
    )
    assert run.status == "completed" and "val_loss" in run.history.last
    assert len(run._splits["test"].y) == 40


def test_dict_entries_of_different_lengths_are_named_with_their_lengths():
    num, cat, y = _data()
    with pytest.raises(DataError, match=r"num has 240, cat has 239"):
        nbtrain.train(({"num": num, "cat": cat[:-1]}, y), model=TwoInputs(), display="none")


def test_a_model_whose_forward_takes_none_of_the_keys_lists_both():
    num, cat, y = _data()
    with pytest.raises(ShapeError, match=r"'a', 'b'.*forward takes 'num', 'cat'"):
        nbtrain.train(({"a": num, "b": cat}, y), model=TwoInputs(), display="none")


def test_a_preset_model_with_several_inputs_says_what_to_give():
    num, cat, y = _data()
    with pytest.raises(NbtrainError, match="takes one input array"):
        nbtrain.train(({"num": num, "cat": cat}, y), model="mlp(8)", display="none")


# ------------------------------------------------------------------------------------------ dtypes


class Bag(nn.Module):
    def __init__(self, vocab=50):
        super().__init__()
        self.emb, self.out = nn.EmbeddingBag(vocab, 8), nn.Linear(8, 2)

    def forward(self, ids):
        return self.out(self.emb(ids))


def test_token_ids_reach_an_embedding_bag_as_int64_and_it_learns():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 50, size=(600, 12))
    y = (ids < 10).any(axis=1).astype(np.int64)
    run = nbtrain.train((ids, y), model=Bag(), epochs=15, lr=0.05, display="none")
    assert run.status == "completed"
    assert run._splits["train"].X.dtype == torch.int64
    assert run.evaluate()["accuracy"] > 0.8
    assert run.predict(ids[:5]).shape == (5,)


def test_integer_features_still_train_a_preset_model_and_preprocessing():
    rng = np.random.default_rng(2)
    X = rng.integers(0, 10, size=(200, 3))
    y = (X[:, 0] > 4).astype(np.int64)
    for kw in ({"model": "mlp(8)"}, {"model": "logistic", "preprocess": "standardize"}):
        run = nbtrain.train((X, y), epochs=2, display="none", **kw)
        assert run._splits["train"].X.dtype == torch.float32


def test_integer_features_into_a_float_model_is_one_sentence_naming_the_fix():
    X = np.arange(400).reshape(200, 2) % 7
    y = (X[:, 0] > 3).astype(np.int64)
    with pytest.raises(ShapeError, match=r"got integer inputs: X \(int64\).*astype\('float32'\)"):
        nbtrain.train((X, y), model=nn.Linear(2, 2), display="none")
    assert "\n" not in str(
        pytest.raises(ShapeError, nbtrain.train, (X, y), model=nn.Linear(2, 2), display="none").value
    )


def test_float_ids_into_an_embedding_is_one_sentence_naming_the_fix():
    ids = np.random.default_rng(0).integers(0, 50, size=(100, 6)).astype(np.float32)
    y = np.arange(100) % 2
    with pytest.raises(ShapeError, match=r"takes integer ids.*astype\('int64'\)"):
        nbtrain.train((ids, y), model=Bag(), display="none")


# ------------------------------------------------------------------------------------------ Datasets


class DictItems(torch.utils.data.Dataset):
    def __init__(self, key="labels", n=N):
        self.num, self.cat, self.y = (torch.as_tensor(a) for a in _data())
        self.key, self.n = key, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"num": self.num[i], "cat": self.cat[i], self.key: self.y[i]}


class TupleItems(DictItems):
    def __getitem__(self, i):
        return (self.num[i], self.cat[i]), self.y[i]


@pytest.mark.parametrize("key", ["labels", "label"])
def test_a_dataset_of_dict_items_trains_with_the_target_under_labels_or_label(key):
    seen = Seen()
    run = nbtrain.train(DictItems(key), model=TwoInputs(seen), classes=2, epochs=2, display="none")
    assert run.status == "completed"
    assert {c[:2] for c in seen.calls} == {(torch.float32, torch.int64)}
    assert 0 <= run.evaluate()["accuracy"] <= 1


def test_target_names_the_key_of_dict_items_and_a_missing_one_lists_the_keys():
    run = nbtrain.train(DictItems("y"), model=TwoInputs(), target="y", classes=2, epochs=1, display="none")
    assert run.status == "completed"
    with pytest.raises(DataError, match=r"no target under 'labels' or 'label' \(keys: 'num', 'cat', 'y'\)"):
        nbtrain.train(DictItems("y"), model=TwoInputs(), classes=2, display="none")
    with pytest.raises(DataError, match=r"no key 'z' for target=; their keys are 'num', 'cat', 'y'"):
        nbtrain.train(DictItems("y"), model=TwoInputs(), target="z", classes=2, display="none")


def test_a_dataset_of_tuple_inputs_calls_model_of_positional_inputs():
    run = nbtrain.train(TupleItems(), model=TwoInputs(), classes=2, epochs=1, display="none")
    assert run.status == "completed"


def test_items_that_do_not_stack_name_the_shapes_and_suggest_collate():
    class Ragged(torch.utils.data.Dataset):
        def __len__(self):
            return 20

        def __getitem__(self, i):
            return torch.ones(3 + i % 2, dtype=torch.long), i % 2

    with pytest.raises(DataError, match=r"item 1 has x of shape \(4,\) but item 0 has \(3,\).*collate="):
        nbtrain.train(Ragged(), model=Bag(), classes=2, display="none")

    def pad(items):
        xs = torch.nn.utils.rnn.pad_sequence([x for x, _ in items], batch_first=True)
        return xs, torch.tensor([y for _, y in items])

    run = nbtrain.train(Ragged(), model=Bag(), classes=2, collate=pad, epochs=1, display="none")
    assert run.status == "completed"


# ------------------------------------------------------------------------------------------ the mover


Pair = collections.namedtuple("Pair", "a b")


@dataclasses.dataclass
class Box:
    a: torch.Tensor
    b: dict


def test_the_mover_keeps_namedtuples_and_dataclasses_and_applies_the_dtype_rule():
    x = {
        "p": Pair(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.long)),
        "box": Box(torch.zeros(1), {"m": torch.ones(1, dtype=torch.bool)}),
    }
    moved = batch.to_device(x, torch.device("cpu"))
    assert isinstance(moved["p"], Pair) and isinstance(moved["box"], Box)
    assert moved["p"].a.dtype == torch.float32 and moved["p"].b.dtype == torch.long
    assert moved["box"].b["m"].dtype == torch.bool
    assert batch.rows(x) == 2


def test_the_call_convention():
    calls = []

    def model(*args, **kwargs):
        calls.append((len(args), sorted(kwargs)))

    batch.call(model, torch.zeros(1))
    batch.call(model, (torch.zeros(1), torch.zeros(1)))
    batch.call(model, {"a": 1, "b": 2})
    batch.call(model, Pair(1, 2))
    batch.call(model, torch.zeros(1), labels=torch.zeros(1))
    assert calls == [(1, []), (2, []), (0, ["a", "b"]), (1, []), (1, ["labels"])]


def test_runs_on_the_same_dict_of_arrays_share_one_prepared_copy():
    num, cat, y = _data()
    x = {"num": num, "cat": cat}
    a = nbtrain.train((x, y), model=TwoInputs(), epochs=1, display="none")
    b = nbtrain.train((x, y), model=TwoInputs(), epochs=1, display="none", lr=0.01)
    assert a._splits["train"].owner.prepared is b._splits["train"].owner.prepared
    cat2 = cat.copy()
    cat2[0] = (cat2[0] + 1) % 5  # a changed array is prepared again
    c = nbtrain.train(({"num": num, "cat": cat2}, y), model=TwoInputs(), epochs=1, display="none")
    assert c._splits["train"].owner.prepared is not a._splits["train"].owner.prepared


def test_a_list_of_row_arrays_is_still_one_array_of_rows_and_a_list_of_inputs_is_several():
    rng = np.random.default_rng(3)
    rows = [rng.normal(size=4).astype(np.float32) for _ in range(100)]
    y = np.arange(100) % 2
    run = nbtrain.train((rows, y), epochs=1, display="none")
    assert run.config["input_shape"] == [4] and run.predict(rows[:3]).shape == (3,)
    num, cat, y = _data()
    run = nbtrain.train(([num, cat], y), model=TwoInputs(), epochs=1, display="none")
    assert run.config["input_shapes"] == {"[0]": [4], "[1]": []}
