"""run.explain() on runs trained on a torch Dataset: the split read through a view (each item once for
the evaluation pass, nothing held but the outputs), top losses recomputed from the items themselves,
importance by scikit-learn's own permutation_importance on the items gathered by hand."""

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import nbtrain
from nbtrain.core.errors import ExplainError
from nbtrain.core.explain_data import DatasetRows

pd = pytest.importorskip("pandas")
pytest.importorskip("captum")

NAMES = np.array(["setosa", "versicolor", "virginica"])


class Counting(Dataset):
    """Iris rows as (x, y) items, counting the reads."""

    def __init__(self, X, y):
        self.X, self.y, self.reads = X, y, 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        return self.X[i], self.y[i]


@pytest.fixture(scope="module")
def iris_ds():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    ds = Counting(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    ds.classes = list(NAMES)
    run = nbtrain.train(ds, epochs=2, lr=0.01, display="none", model="mlp(8)")
    return run, ds


def _items(ex):
    xs = [ex.inputs[i] for i in range(len(ex))]
    return torch.stack(xs).numpy()


def test_a_dataset_split_is_read_once_and_viewed_not_copied(iris_ds):
    run, ds = iris_ds
    ds.reads = 0
    ex = run.explain(on="test")
    assert ds.reads == 30  # the evaluation pass only
    assert isinstance(ex.inputs, DatasetRows) and len(ex.inputs) == 30 and ex.rows is None
    ex.top_losses(5), ex.most_confused()
    assert ds.reads == 30  # top losses and confusion read no item
    assert ex.targets.dtype.kind == "U" and set(ex.targets) <= set(NAMES)  # the Dataset's classes
    x3 = ex.inputs[3]
    assert torch.equal(x3, ds.X[ex.inputs.dataset.indices[3]])


def test_top_losses_of_a_dataset_split_are_the_highest_cross_entropy(iris_ds):
    from sklearn.metrics import confusion_matrix, log_loss

    run, _ = iris_ds
    ex = run.explain(on="test")
    X = _items(ex)
    p = run.predict_proba(X).astype(np.float64)
    p /= p.sum(1, keepdims=True)
    losses = np.array([log_loss([t], [q], labels=list(NAMES)) for t, q in zip(ex.targets, p)])
    top = ex.top_losses(6)
    np.testing.assert_allclose(top["loss"], losses[top["index"]], rtol=1e-4, atol=1e-6)
    assert top["loss"].min() >= np.sort(losses)[-6] - 1e-5
    cm = confusion_matrix(ex.targets, NAMES[p.argmax(1)], labels=list(NAMES))
    assert sum(c for _, _, c in ex.most_confused(k=9)) == cm.sum() - np.trace(cm)
    rows = ex.take(top["index"][:2])
    np.testing.assert_array_equal(rows, X[top["index"][:2]])


def test_importance_on_a_dataset_matches_permutation_importance_on_its_items(iris_ds):
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.inspection import permutation_importance

    run, ds = iris_ds
    ex = run.explain(on="test")
    X = _items(ex)

    class Predictor(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return run.predict(X.astype(np.float32))

    est = Predictor()
    est.classes_ = NAMES
    ref = permutation_importance(est, X, ex.targets, scoring="accuracy", n_repeats=3, random_state=4)
    got = ex.importance(n_repeats=3, metric="accuracy", seed=4).set_index("feature")
    names = [f"x{i}" for i in range(4)]
    np.testing.assert_allclose(got.loc[names, "importance"], ref.importances_mean, atol=1e-9)
    np.testing.assert_allclose(got.loc[names, "std"], ref.importances_std, atol=1e-9)


class DictItems(Dataset):
    """Two inputs in dict items, the target under "labels"."""

    def __init__(self, n=240, seed=0):
        rng = np.random.default_rng(seed)
        self.num = torch.tensor(rng.normal(size=(n, 3)), dtype=torch.float32)
        self.cat = torch.tensor(rng.integers(0, 5, size=n))
        self.y = ((self.num[:, 0] + 2.0 * (self.cat == 2)) > 0.5).long()
        self.targets = self.y  # no pass over the items for the labels

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"num": self.num[i], "cat": self.cat[i], "labels": self.y[i]}


class TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(5, 4)
        self.lin = torch.nn.Linear(7, 2)

    def forward(self, num, cat):
        return self.lin(torch.cat([num, self.emb(cat)], dim=1))


def test_dict_items_shuffle_per_key_and_attribute_per_input():
    from sklearn.metrics import accuracy_score

    torch.manual_seed(0)
    ds = DictItems()
    run = nbtrain.train(ds, model=TwoInputs(), epochs=4, lr=0.05, display="none", task="classification")
    ex = run.explain(on="val")
    assert set(ex.inputs[0]) == {"num", "cat"}
    got = ex.importance(n_repeats=2, metric="accuracy", seed=1).set_index("feature")
    items = [ex.inputs[i] for i in range(len(ex))]
    num = torch.stack([it["num"] for it in items]).numpy()
    cat = torch.stack([it["cat"] for it in items]).numpy()
    rs = np.random.RandomState(np.random.RandomState(1).randint(np.iinfo(np.int32).max + 1))
    idx, column, perms = np.arange(len(ex)), np.arange(len(ex)), []
    for _ in range(2):
        rs.shuffle(idx)
        column = column[idx]
        perms.append(column)
    y = np.asarray(ex.targets).astype(int)
    base = accuracy_score(y, run.predict({"num": num, "cat": cat}).astype(int))
    for key in ("num", "cat"):
        drops = [
            base - accuracy_score(y, run.predict({"num": num, "cat": cat, key: {"num": num, "cat": cat}[key][p]}))
            for p in perms
        ]
        assert got.loc[key, "importance"] == pytest.approx(np.mean(drops), abs=1e-9)
    rows = ex.take([0, 1, 2])
    attr = ex.attribute(rows)
    with torch.no_grad():
        out = run.model(torch.tensor(rows["num"]), torch.tensor(rows["cat"])).numpy()
        base = run.model(torch.zeros(3, 3), torch.zeros(3, dtype=torch.long)).numpy()
    k = out.argmax(1)
    np.testing.assert_allclose(
        attr["num"].sum(1) + attr["cat"], out[np.arange(3), k] - base[np.arange(3), k], rtol=0.05, atol=1e-3
    )
    with pytest.raises(ExplainError, match=r"ex.attribute\(ex.take"):
        ex.attribute()


def test_images_in_a_dataset_cannot_be_shuffled_between_items():
    X = torch.randn(120, 1, 6, 6)
    y = torch.randint(0, 2, (120,))
    run = nbtrain.train(TensorDataset(X, y), model="cnn", epochs=1, display="none")
    ex = run.explain()
    with pytest.raises(ExplainError, match=r"one input of shape \(1, 6, 6\)"):
        ex.importance()


def test_an_iterable_split_is_named():
    from torch.utils.data import IterableDataset

    class Stream(IterableDataset):
        def __iter__(self):
            g = torch.Generator().manual_seed(0)
            for _ in range(64):
                x = torch.randn(3, generator=g)
                yield x, int(x[0] > 0)

    run = nbtrain.train(
        Stream(), val=0, test=0, test_data=Stream(), steps_per_epoch=4, batch_size=8, classes=2, epochs=1,
        display="none",
    )  # fmt: skip
    with pytest.raises(ExplainError, match=r"IterableDataset.*run.explain\(data=\(X, y\)\)"):
        run.explain()
