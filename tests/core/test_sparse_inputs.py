"""scipy sparse features (issue 19 item 1): TF-IDF output stays sparse, each batch is made dense,
"standardize" scales without centring and says so."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

import nbtrain
from nbtrain.core.errors import DataError
from nbtrain.core.preprocess import SparseScalingWarning
from nbtrain.core.sparse import SparseRows

WORDS = np.array("good bad great awful fine poor nice terrible ok meh".split())
POSITIVE, NEGATIVE = {"good", "great", "fine", "nice"}, {"bad", "awful", "poor", "terrible"}


def _reviews(n=400, seed=0):
    rng = np.random.default_rng(seed)
    docs = [" ".join(rng.choice(WORDS, 6)) for _ in range(n)]
    y = np.array([len(POSITIVE & set(d.split())) > len(NEGATIVE & set(d.split())) for d in docs]).astype(np.int64)
    return TfidfVectorizer().fit_transform(docs), y


def test_sparse_rows_gather_exactly_what_scipy_holds():
    m = sp.random(50, 30, density=0.1, format="csr", random_state=0, dtype=np.float32)
    rows = SparseRows.from_scipy(m)
    idx = torch.tensor([7, 0, 49, 7, 12])
    assert np.array_equal(rows.index_select(0, idx).numpy(), m[idx.numpy()].toarray())
    assert np.array_equal(rows[10:20].numpy(), m[10:20].toarray())
    assert rows.shape == (50, 30)


def test_tfidf_trains_sparse_and_standardize_scales_without_centring():
    X, y = _reviews()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = nbtrain.train((X, y), preprocess="standardize", epochs=20, lr=0.05, display="none")
    said = [w for w in caught if issubclass(w.category, SparseScalingWarning)]
    assert len(said) == 1 and "without centring" in str(said[0].message)
    assert isinstance(run._splits["train"].X, SparseRows)  # stays sparse on the device
    # the fitted scaler is scikit-learn's, without the mean
    scaler = run.preprocess.steps[-1][1]
    assert isinstance(scaler, StandardScaler) and scaler.with_mean is False
    xb, _ = next(iter(run._splits["train"].epoch(shuffle=False)))
    assert xb.layout == torch.strided and xb.shape == (32, X.shape[1])  # each batch dense
    assert run.evaluate()["accuracy"] > 0.8
    assert np.array_equal(run.predict(X[:20]), run.predict(X[:20].toarray()))


def test_other_presets_that_would_densify_are_one_sentence():
    X, y = _reviews(100)
    with pytest.raises(DataError, match="would make the sparse matrix dense"):
        nbtrain.train((X, y), preprocess="normalize", display="none")
