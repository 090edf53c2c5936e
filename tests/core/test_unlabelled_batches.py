"""A batch with no labelled position (per-position targets, every one -100): the preset cross-entropy is
0 with zero gradient there, not torch's 0/0 = NaN; on ordinary batches it is torch's mean."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nbtrain
from nbtrain.core.losses import build_loss


@pytest.mark.parametrize(
    "spec, kw", [("cross_entropy", {}), ("cross_entropy(label_smoothing=0.1)", {"label_smoothing": 0.1})]
)
def test_the_preset_is_torchs_mean_on_ordinary_batches(spec, kw):
    g = torch.Generator().manual_seed(0)
    loss = build_loss(spec, n_classes=4)
    out, y = torch.randn(32, 4, generator=g), torch.randint(0, 4, (32,), generator=g)  # one label a row
    torch.testing.assert_close(loss(out, y), F.cross_entropy(out, y, **kw), rtol=1e-6, atol=0)
    out, y = torch.randn(8, 4, 11, generator=g), torch.randint(0, 4, (8, 11), generator=g)  # per position
    y[:, 6:] = -100
    y[3] = -100  # a row with no label among rows with labels
    torch.testing.assert_close(loss(out, y), F.cross_entropy(out, y, **kw), rtol=1e-6, atol=0)
    probs = torch.softmax(torch.randn(16, 4, generator=g), 1)  # class probabilities as targets
    out = torch.randn(16, 4, generator=g)
    torch.testing.assert_close(loss(out, probs), F.cross_entropy(out, probs, **kw), rtol=1e-6, atol=0)


@pytest.mark.parametrize("spec", ["cross_entropy", "cross_entropy(label_smoothing=0.1)"])
def test_a_batch_with_no_labelled_position_is_zero_with_zero_gradient(spec):
    out = torch.randn(4, 3, 9, requires_grad=True)
    y = torch.full((4, 9), -100)
    assert math.isnan(F.cross_entropy(out, y).item())  # torch's mean: 0 / 0
    value = build_loss(spec, n_classes=3)(out, y)
    value.backward()
    assert value.item() == 0.0 and torch.equal(out.grad, torch.zeros_like(out))


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(20, 16), nn.Linear(16, 3)

    def forward(self, input_ids):
        return self.out(self.emb(input_ids))


class Sentences(torch.utils.data.Dataset):
    """Variable-length sentences; only one in eight has labelled tokens, so that most batches of four
    (ragged, padded with -100) have none."""

    def __init__(self, n=64, seed=0):
        rng = np.random.default_rng(seed)
        self.ids = [torch.as_tensor(rng.integers(0, 20, size=3 + i % 6)) for i in range(n)]

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        ids = self.ids[i]
        labels = ids % 3 if i % 8 == 0 else torch.full_like(ids, -100)
        return {"input_ids": ids, "labels": labels}


def _pad(items):
    ids = nn.utils.rnn.pad_sequence([it["input_ids"] for it in items], batch_first=True)
    labels = nn.utils.rnn.pad_sequence([it["labels"] for it in items], batch_first=True, padding_value=-100)
    return {"input_ids": ids, "labels": labels}


def test_ragged_batches_with_no_labelled_position_train_without_nan():
    ds = Sentences(128)
    torch.manual_seed(0)
    run = nbtrain.train(
        ds, val_data=Sentences(32, seed=1), model=Tagger(), collate=_pad, classes=3, batch_size=4,
        epochs=4, lr=0.05, seed=0, display="none",
    )  # fmt: skip
    assert run.status == "completed"
    assert np.isfinite(run.history["train_loss"]).all() and np.isfinite(run.history["val_loss"]).all()
    assert all(torch.isfinite(p.detach()).all() for p in run.model.parameters())
    assert run.evaluate(on="val")["accuracy"] > 0.6  # it learned from the labelled tokens (chance: 1/3)
