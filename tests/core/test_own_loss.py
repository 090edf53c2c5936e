"""The model's own loss (issue 19 item 4): a hand-written module that follows the transformers output
convention (a ModelOutput-like dataclass with .loss and .logits, labels passed as labels=)."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nbtrain
from nbtrain.core.prepare import OwnLossWarning


@dataclasses.dataclass
class Output:
    """As transformers' SequenceClassifierOutput: loss (None without labels) and logits."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None


class Classifier(nn.Module):
    """forward(input_ids, attention_mask, labels=None) -> Output, like a transformers classifier."""

    def __init__(self, vocab=30, classes=2, as_dict=False):
        super().__init__()
        self.emb, self.head, self.as_dict = nn.Embedding(vocab, 16), nn.Linear(16, classes), as_dict
        self.calls_with_labels = 0

    def forward(self, input_ids, attention_mask, labels=None):
        h = (self.emb(input_ids) * attention_mask.unsqueeze(-1)).sum(1) / attention_mask.sum(1, keepdim=True)
        logits = self.head(h)
        loss = None
        if labels is not None:
            self.calls_with_labels += 1
            loss = F.cross_entropy(logits, labels) * 2.0  # deliberately not the preset: it must be this one
        if self.as_dict:
            return {"loss": loss, "logits": logits}
        return Output(loss=loss, logits=logits)


def _tokens(n=400, t=8, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 30, size=(n, t))
    mask = np.ones((n, t), dtype=np.int64)
    mask[:, 6:] = rng.integers(0, 2, size=(n, 2))
    y = ((ids[:, :6] < 15).sum(1) >= 3).astype(np.int64)  # learnable through mean pooling
    return {"input_ids": ids, "attention_mask": mask}, y


@pytest.mark.parametrize("as_dict", [False, True])
def test_the_models_own_loss_trains_and_is_what_the_history_calls_loss(as_dict):
    x, y = _tokens()
    model = Classifier(as_dict=as_dict)
    run = nbtrain.train((x, y), model=model, epochs=8, lr=0.05, display="none")
    assert run.config["loss"] == "model's own"
    assert model.calls_with_labels > 0
    # val_loss is the model's own (twice the cross-entropy), computed independently here
    val = run._splits["val"]
    with torch.no_grad():
        out = run.model.eval()(**val.X)
    logits = out["logits"] if as_dict else out.logits
    want = 2.0 * F.cross_entropy(logits, val.y).item()
    assert run.history.last["val_loss"] == pytest.approx(want, rel=1e-4)
    # metrics read the logits
    acc = (logits.argmax(1) == val.y).float().mean().item()
    assert run.history.last["val_accuracy"] == pytest.approx(acc)
    assert run.history.last["val_accuracy"] > 0.75
    assert run.predict({"input_ids": x["input_ids"][:3], "attention_mask": x["attention_mask"][:3]}).shape == (3,)


def test_a_given_loss_applies_to_the_logits_and_one_line_says_so():
    x, y = _tokens(200)
    model = Classifier()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = nbtrain.train((x, y), model=model, loss="cross_entropy", epochs=2, display="none")
    said = [w for w in caught if issubclass(w.category, OwnLossWarning)]
    assert len(said) == 1 and "\n" not in str(said[0].message)
    assert "applied to its logits" in str(said[0].message)
    assert model.calls_with_labels == 0  # the model never computed its own
    val = run._splits["val"]
    with torch.no_grad():
        logits = run.model.eval()(**val.X).logits
    assert run.history.last["val_loss"] == pytest.approx(F.cross_entropy(logits, val.y).item(), rel=1e-4)


def test_a_dataset_of_transformers_style_dict_items_trains_on_the_models_loss():
    x, y = _tokens(160)

    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return len(y)

        def __getitem__(self, i):
            return {
                "input_ids": torch.as_tensor(x["input_ids"][i]),
                "attention_mask": torch.as_tensor(x["attention_mask"][i]),
                "labels": torch.as_tensor(y[i]),
            }

    run = nbtrain.train(Items(), model=Classifier(), classes=2, epochs=2, display="none")
    assert run.config["loss"] == "model's own" and run.status == "completed"
    assert 0 <= run.evaluate()["accuracy"] <= 1
