"""run.explain() on several inputs (a dict or tuple of arrays) and on token ids: every figure recomputed
independently (scikit-learn's log_loss, confusion_matrix, accuracy_score and permutation_importance;
the shuffles done here by hand; completeness from the model's own logits)."""

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.core.errors import ExplainError

pd = pytest.importorskip("pandas")
pytest.importorskip("captum")

N = 300


class TwoInputs(torch.nn.Module):
    """forward(num, cat): three numbers and a category (through an embedding)."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(5, 4)
        self.lin = torch.nn.Linear(3 + 4, 2)

    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], dim=1))


def _data(seed=0):
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(N, 3)).astype(np.float32)
    cat = rng.integers(0, 5, size=N)
    y = np.where(num[:, 0] + 2.0 * (cat == 2) + 0.5 * rng.normal(size=N) > 0.5, "yes", "no")
    return num, cat, y


@pytest.fixture(scope="module")
def dict_run():
    num, cat, y = _data()
    torch.manual_seed(0)
    run = nbtrain.train(({"num": num, "cat": cat}, y), model=TwoInputs(), epochs=4, lr=0.05, display="none")
    return run, {"num": num, "cat": cat}, y


@pytest.fixture(scope="module")
def dict_ex(dict_run):
    return dict_run[0].explain(on="test")


def _log_losses(run, X, y):
    from sklearn.metrics import log_loss

    p = run.predict_proba(X).astype(np.float64)
    p /= p.sum(axis=1, keepdims=True)
    return np.array([log_loss([t], [q], labels=list(run.classes)) for t, q in zip(y, p)]), p


def test_inputs_keep_their_structure_and_top_losses_are_the_highest_cross_entropy(dict_run, dict_ex):
    run, X, y = dict_run
    ex = dict_ex
    assert isinstance(ex.inputs, dict) and list(ex.inputs) == ["num", "cat"]
    np.testing.assert_array_equal(ex.inputs["num"], X["num"][ex.rows])
    np.testing.assert_array_equal(ex.inputs["cat"], X["cat"][ex.rows])
    np.testing.assert_array_equal(ex.targets, y[ex.rows])
    losses, p = _log_losses(run, ex.inputs, ex.targets)
    top = ex.top_losses(6)
    idx = top["index"].to_numpy()
    np.testing.assert_allclose(top["loss"], losses[idx], rtol=1e-4, atol=1e-6)
    assert top["loss"].min() >= np.sort(losses)[-6] - 1e-5
    np.testing.assert_array_equal(top["prediction"], run.classes[p.argmax(1)[idx]])


def test_most_confused_matches_scikit_learn(dict_run, dict_ex):
    from sklearn.metrics import confusion_matrix

    run, _, _ = dict_run
    cm = confusion_matrix(dict_ex.targets, run.predict(dict_ex.inputs), labels=["no", "yes"])
    expected = sorted([("no", "yes", int(cm[0, 1])), ("yes", "no", int(cm[1, 0]))], key=lambda t: -t[2])
    assert dict_ex.most_confused() == [t for t in expected if t[2]]


def _sklearn_permutations(seed, n, n_repeats):
    """The shuffles scikit-learn's permutation_importance draws for every feature (random_state=seed)."""
    rs = np.random.RandomState(seed)
    feature_seed = rs.randint(np.iinfo(np.int32).max + 1)
    rs = np.random.RandomState(feature_seed)
    idx, column, out = np.arange(n), np.arange(n), []
    for _ in range(n_repeats):
        rs.shuffle(idx)
        column = column[idx]  # scikit-learn shuffles the column it already shuffled
        out.append(column)
    return out


def test_importance_shuffles_each_input_key_as_scikit_learn_would(dict_run, dict_ex):
    from sklearn.metrics import accuracy_score

    run, _, _ = dict_run
    ex = dict_ex
    got = ex.importance(n_repeats=4, metric="accuracy", seed=7).set_index("feature")
    assert sorted(got.index) == ["cat", "num"]
    base = accuracy_score(ex.targets, run.predict(ex.inputs))
    for key in ("num", "cat"):
        drops = []
        for perm in _sklearn_permutations(7, len(ex), 4):
            shuffled = dict(ex.inputs, **{key: ex.inputs[key][perm]})
            drops.append(base - accuracy_score(ex.targets, run.predict(shuffled)))
        assert got.loc[key, "importance"] == pytest.approx(np.mean(drops), abs=1e-9)
        assert got.loc[key, "std"] == pytest.approx(np.std(drops), abs=1e-9)
    assert got.loc["num", "importance"] > 0.05  # num[:, 0] decides


def test_importance_by_columns_matches_permutation_importance_on_the_flat_table(dict_run, dict_ex):
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.inspection import permutation_importance

    run, _, _ = dict_run
    ex = dict_ex

    class Flat(ClassifierMixin, BaseEstimator):  # the same run over [num0, num1, num2, cat]
        def fit(self, X, y):
            return self

        def predict(self, X):
            return run.predict({"num": X[:, :3].astype(np.float32), "cat": X[:, 3].astype(np.int64)})

    flat = np.column_stack([ex.inputs["num"], ex.inputs["cat"]])
    est = Flat()
    est.classes_ = run.classes
    ref = permutation_importance(est, flat, ex.targets, scoring="accuracy", n_repeats=3, random_state=2)
    got = ex.importance(n_repeats=3, metric="accuracy", seed=2, columns=True).set_index("feature")
    names = ["num[0]", "num[1]", "num[2]", "cat"]
    np.testing.assert_allclose(got.loc[names, "importance"], ref.importances_mean, atol=1e-9)
    np.testing.assert_allclose(got.loc[names, "std"], ref.importances_std, atol=1e-9)


def _logits(model, *args):
    with torch.no_grad():
        return model(*(torch.as_tensor(a) for a in args)).numpy()


def test_attributions_per_input_are_complete_against_the_logits(dict_run, dict_ex):
    run, _, _ = dict_run
    x = dict_ex.take(range(10))
    attr = dict_ex.attribute(x)
    assert isinstance(attr, dict) and attr["num"].shape == (10, 3) and attr["cat"].shape == (10,)
    out = _logits(run.model, x["num"], x["cat"])
    base = _logits(run.model, np.zeros_like(x["num"]), np.zeros_like(x["cat"]))  # floats 0, ids 0
    k = out.argmax(1)
    gap = out[np.arange(10), k] - base[np.arange(10), k]
    total = attr["num"].sum(1) + attr["cat"]
    np.testing.assert_allclose(total, gap, rtol=0.05, atol=1e-3)
    mean = x["num"].mean(0)  # a baseline per input: num at its mean, cat at category 3
    attr = dict_ex.attribute(x, baseline={"num": mean, "cat": 3}, target="yes")
    j = list(run.classes).index("yes")
    base = _logits(run.model, np.broadcast_to(mean, x["num"].shape).copy(), np.full_like(x["cat"], 3))
    total = attr["num"].sum(1) + attr["cat"]
    np.testing.assert_allclose(total, out[:, j] - base[:, j], rtol=0.05, atol=1e-3)
    sal = dict_ex.attribute(x, method="saliency")  # |d logit / d num|: the linear layer's weights
    w = run.model.lin.weight.detach().numpy()[:, :3]
    np.testing.assert_allclose(sal["num"], np.abs(w[k]), rtol=1e-5)


def test_a_tuple_of_inputs_names_its_positions():
    num, cat, y = _data(1)
    torch.manual_seed(0)
    run = nbtrain.train(((num, cat), y), model=TwoInputs(), epochs=2, lr=0.05, display="none")
    ex = run.explain(on="val")
    assert isinstance(ex.inputs, tuple) and ex.inputs[0].shape == (60, 3)
    imp = ex.importance(n_repeats=2)
    assert sorted(imp["feature"]) == ["[0]", "[1]"] and imp.attrs["metric"] == "loss"
    attr = ex.attribute(ex.take([0, 1, 2]))
    assert isinstance(attr, tuple) and attr[0].shape == (3, 3) and attr[1].shape == (3,)


class Bag(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(vocab, 8, mode="mean", padding_idx=0)
        self.out = torch.nn.Linear(8, 2)

    def forward(self, ids):
        return self.out(self.emb(ids))


VOCAB = ["[PAD]", "good", "great", "bad", "awful", "the", "movie", "was", "a", "plot"]


def _token_data(n=400, seed=0, length=8):
    """Keyword sentiment over VOCAB: one of good/great (1) or bad/awful (0) among filler words, padded."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, length), dtype=np.int64)
    y = rng.integers(0, 2, size=n)
    for i in range(n):
        k = int(rng.integers(3, length))
        row = list(rng.integers(5, len(VOCAB), size=k - 1))
        row.insert(int(rng.integers(0, k)), int(rng.choice([1, 2] if y[i] else [3, 4])))
        ids[i, :k] = row
    return ids, np.array(["neg", "pos"])[y]


@pytest.fixture(scope="module")
def bag_run():
    ids, y = _token_data()
    torch.manual_seed(0)
    return nbtrain.train((ids, y), model=Bag(len(VOCAB)), epochs=8, lr=0.05, display="none")


def test_token_ids_are_attributed_per_token_through_the_embedding_bag(bag_run):
    ex = bag_run.explain(tokenizer=VOCAB)
    assert ex.inputs.dtype == np.int64 and ex.inputs.shape == (80, 8)
    x = ex.inputs[:16]
    attr = ex.attribute(x)
    assert attr.shape == (16, 8)
    out = _logits(bag_run.model, x)
    base = _logits(bag_run.model, np.zeros_like(x))  # the padding id: the vocabulary's [PAD]
    k = out.argmax(1)
    gap = out[np.arange(16), k] - base[np.arange(16), k]
    np.testing.assert_allclose(attr.sum(1), gap, rtol=0.05, atol=1e-3)
    assert np.all(attr[x == 0] == 0)  # padding: the bag leaves it out, so it moves nothing
    keyword = (x >= 1) & (x <= 4)
    right = np.asarray(ex.predictions[:16]) == ex.targets[:16]
    top = np.abs(attr).argmax(1)
    assert keyword[np.arange(16), top][right].mean() >= 0.8  # the sentiment word carries the decision
    with pytest.raises(ExplainError, match="importance shuffles"):
        ex.importance()  # token positions are not columns


def test_integer_inputs_no_embedding_reads_are_named():
    class Offset(torch.nn.Module):  # the ids reach the embedding only after arithmetic
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(12, 4)
            self.lin = torch.nn.Linear(4, 2)

        def forward(self, ids):
            return self.lin(self.emb(ids + 1).mean(1))

    ids, y = _token_data(120, seed=3)
    run = nbtrain.train((ids, y), model=Offset(), epochs=1, display="none")
    ex = run.explain()
    with pytest.raises(ExplainError, match=r"reach no nn.Embedding directly.*layer='NAME'.*'emb'"):
        ex.attribute(ex.inputs[:2])
    attr = ex.attribute(ex.inputs[:2], layer="emb")  # named: its attributions go to the ids
    assert attr.shape == (2, 8)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("pad", [None, 0])
def test_an_embedding_bag_read_token_by_token_gives_torchs_own_bags(mode, pad):
    from nbtrain.core.attribution_inputs import _PerToken

    torch.manual_seed(0)
    ids = torch.randint(0, 10, (6, 7))
    ids[0, 3:] = 0
    ids[1] = 0  # an empty bag where 0 is padding
    bag = torch.nn.EmbeddingBag(10, 4, mode=mode, padding_idx=pad)
    with torch.no_grad():
        torch.testing.assert_close(_PerToken(bag)(ids), bag(ids))
    with pytest.raises(ExplainError, match="without offsets"):
        _PerToken(bag)(ids.reshape(-1), offsets=torch.tensor([0, 7]))
