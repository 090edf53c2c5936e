"""scipy sparse features handed to the model as torch sparse tensors (issue 19 item 1): a model that
says ``sparse_input = "csr"`` (or ``"coo"``) gets each batch as a torch sparse tensor of that layout,
never dense; its predictions agree with the dense path and with a dense forward computed by hand."""

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from torch import nn

import nbtrain
from nbtrain.core.errors import ConfigError

WORDS = np.array("good bad great awful fine poor nice terrible ok meh".split())
POSITIVE, NEGATIVE = {"good", "great", "fine", "nice"}, {"bad", "awful", "poor", "terrible"}


def _reviews(n=300, seed=0):
    rng = np.random.default_rng(seed)
    docs = [" ".join(rng.choice(WORDS, 6)) for _ in range(n)]
    y = np.array([len(POSITIVE & set(d.split())) > len(NEGATIVE & set(d.split())) for d in docs]).astype(np.int64)
    return TfidfVectorizer().fit_transform(docs), y


class SparseLinear(nn.Module):
    """A linear classifier over a TF-IDF matrix: ``torch.sparse.mm`` on a sparse batch."""

    sparse_input = "csr"

    def __init__(self, d, k=2):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.weight = nn.Parameter(torch.randn(d, k, generator=g) * 0.1)
        self.bias = nn.Parameter(torch.zeros(k))
        self.seen = set()

    def forward(self, x):
        self.seen.add(x.layout)
        if x.layout == torch.strided:
            return x @ self.weight + self.bias
        return torch.sparse.mm(x, self.weight) + self.bias


class SparseCOO(SparseLinear):
    sparse_input = "coo"


class Dense(SparseLinear):
    sparse_input = None


@pytest.mark.parametrize("cls, layout", [(SparseLinear, torch.sparse_csr), (SparseCOO, torch.sparse_coo)])
def test_a_model_that_takes_sparse_gets_sparse_batches_and_the_dense_paths_numbers(cls, layout):
    X, y = _reviews()
    sparse_model, dense_model = cls(X.shape[1]), Dense(X.shape[1])
    kw = dict(epochs=5, lr=0.1, optimizer="sgd", display="none")
    run = nbtrain.train((X, y), model=sparse_model, **kw)
    dense = nbtrain.train((X, y), model=dense_model, **kw)
    assert sparse_model.seen == {layout} and dense_model.seen == {torch.strided}  # never densified
    xb, _ = next(iter(run._splits["train"].epoch(shuffle=True)))
    assert xb.layout == layout and xb.shape == (32, X.shape[1])
    # the same training, batch for batch: the same weights and predictions as the dense path
    assert torch.allclose(sparse_model.weight, dense_model.weight, atol=1e-5)
    assert np.array_equal(run.predict(X), dense.predict(X))
    np.testing.assert_allclose(run.predict_proba(X[:50]), dense.predict_proba(X[:50]), atol=1e-5)
    # and against a dense forward computed by hand from the trained weights
    by_hand = (torch.tensor(X.toarray(), dtype=torch.float32) @ sparse_model.weight + sparse_model.bias).argmax(1)
    assert np.array_equal(run.predict(X), by_hand.numpy())
    assert run.evaluate(on="test")["accuracy"] == dense.evaluate(on="test")["accuracy"]


def test_a_layout_the_model_cannot_name_is_one_sentence():
    X, y = _reviews(60)
    model = SparseLinear(X.shape[1])
    model.sparse_input = "csc"
    with pytest.raises(ConfigError, match='sparse_input = \'csc\'.*"csr" or "coo"'):
        nbtrain.train((X, y), model=model, epochs=1, display="none")


def test_dense_data_reaches_such_a_model_dense():
    X, y = _reviews(60)
    model = SparseLinear(X.shape[1])
    nbtrain.train((X.toarray().astype(np.float32), y), model=model, epochs=1, display="none")
    assert model.seen == {torch.strided}
