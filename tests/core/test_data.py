import numpy as np
import pytest
import torch

from nbtrain.core import labels, sources, splits, tensor_batches
from nbtrain.core.errors import ConfigError, DataError, DataTypeError

pd = pytest.importorskip("pandas")


def _adapt(data, target=None):
    return sources.adapt(data, sources.Context(target=target))


def test_adapt_arrays_tensors_lists_frames():
    X = np.random.rand(10, 3)
    y = np.arange(10) % 2
    for data in [(X, y), (torch.tensor(X), torch.tensor(y)), (X.tolist(), y.tolist()), (pd.DataFrame(X), pd.Series(y))]:
        t = _adapt(data)
        assert len(t) == 10 and t.y.shape == (10,)
    df = pd.DataFrame({"a": range(6), "b": range(6), "t": ["x", "y"] * 3})
    t = _adapt(df, target="t")
    assert list(t.X.columns) == ["a", "b"] and t.y.tolist() == ["x", "y"] * 3


def test_adapt_errors():
    with pytest.raises(DataError, match="no data"):
        _adapt(None)
    with pytest.raises(DataError, match="rows of X but"):
        _adapt((np.zeros((5, 2)), np.zeros(4)))
    with pytest.raises(DataError, match="empty"):
        _adapt((np.zeros((0, 2)), np.zeros(0)))
    with pytest.raises(DataTypeError):
        _adapt({"X": 1})
    with pytest.raises(DataError, match="target"):
        _adapt(pd.DataFrame({"a": [1, 2]}))
    with pytest.raises(DataError, match="'zz' is not in"):
        _adapt(pd.DataFrame({"a": [1, 2]}), target="zz")
    with pytest.raises(DataError, match="non-numeric"):
        _adapt((np.array([["a"], ["b"]]), np.array([0, 1])))


def test_label_codec_roundtrip_and_unknown():
    c = labels.LabelCodec.fit(np.array(["cat", "dog", "cat", "bird"]))
    assert c.classes.tolist() == ["bird", "cat", "dog"]
    idx = c.encode(np.array(["dog", "bird"]))
    assert idx.tolist() == [2, 0] and c.decode(idx).tolist() == ["dog", "bird"]
    with pytest.raises(DataError, match="not seen"):
        c.encode(np.array(["fish"]))
    with pytest.raises(DataError, match="two classes"):
        labels.LabelCodec.fit(np.array([1, 1, 1]))


def test_split_is_seeded_and_stratified():
    y = np.array([0] * 80 + [1] * 20)
    t = sources.Table(np.arange(100).reshape(-1, 1).astype(float), y)
    a_rest, a_part = splits.split(t, 0.2, 0, True, "test")
    b_rest, b_part = splits.split(t, 0.2, 0, True, "test")
    assert np.array_equal(a_part.X, b_part.X)
    assert (a_part.y == 1).sum() == 4 and len(a_part) == 20
    _, c_part = splits.split(t, 0.2, 1, True, "test")
    assert not np.array_equal(a_part.X, c_part.X)
    with pytest.raises(ConfigError, match="no rows"):
        splits.split(t, 0.001, 0, True, "val")


def test_tensor_batches_cover_every_row_once_per_epoch():
    X = torch.arange(10, dtype=torch.float32).reshape(-1, 1)
    b = tensor_batches.TensorBatches(X, torch.arange(10), 4, torch.Generator().manual_seed(0))
    assert len(b) == 3
    seen = torch.cat([xb for xb, _ in b.epoch()]).flatten().tolist()
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    for xb, yb in b.epoch():
        assert torch.equal(xb.flatten().long(), yb)  # rows and targets stay paired
