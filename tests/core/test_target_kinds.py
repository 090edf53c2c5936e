"""Targets beyond one label a row (issue 19 item 3): multi-hot rows, per-position labels with -100,
several regression outputs; metrics checked against scikit-learn on the run's own predictions."""

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torch import nn

import nbtrain
from nbtrain.core.errors import ConfigError, DataError

RNG = np.random.default_rng(0)


def _multilabel(n=600):
    X = RNG.normal(size=(n, 6)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] + X[:, 3] > 0], 1).astype(np.int64)
    return X, Y


def test_multi_hot_with_bce_trains_one_logit_per_class_and_its_metrics_are_scikit_learns():
    X, Y = _multilabel()
    run = nbtrain.train((X, Y), loss="bce", model="mlp(16)", epochs=30, lr=0.01, display="none")
    assert run.config["target_kind"] == "multihot" and run.config["n_out"] == 3
    assert {"val_accuracy", "val_f1_micro"} <= set(run.history.last)
    got = run.evaluate()
    assert set(got) == {"accuracy", "f1_micro", "f1_macro", "auc"}
    # an independent computation: the test rows' predictions through scikit-learn
    test = run._splits["test"]
    Xt, Yt = test.X.cpu().numpy(), test.y.cpu().numpy().astype(int)
    proba = run.predict_proba(Xt)
    pred = run.predict(Xt)
    assert pred.shape == Yt.shape and set(np.unique(pred)) <= {0, 1}
    assert np.array_equal(pred, (proba > 0.5).astype(int))
    assert np.all((proba >= 0) & (proba <= 1))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(Yt, pred))  # subset accuracy
    assert got["f1_micro"] == pytest.approx(skm.f1_score(Yt, pred, average="micro"))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(Yt, pred, average="macro"))
    assert got["auc"] == pytest.approx(skm.roc_auc_score(Yt, proba, average="macro"), abs=1e-6)
    assert got["accuracy"] > 0.7  # it learned the three rules


def test_task_multilabel_picks_bce_and_a_boolean_matrix_works():
    X, Y = _multilabel(200)
    run = nbtrain.train((X, Y.astype(bool)), task="multilabel", epochs=2, display="none")
    assert run.config["loss"] == "bce" and run.config["target_kind"] == "multihot"


def test_a_multi_hot_matrix_with_other_values_is_one_sentence():
    X, Y = _multilabel(100)
    Y[3, 1] = 2
    with pytest.raises(DataError, match="holds only 0 and 1, but it has 2"):
        nbtrain.train((X, Y), loss="bce", display="none")


def test_metrics_that_do_not_fit_multi_hot_targets_are_refused():
    X, Y = _multilabel(100)
    with pytest.raises(ConfigError, match="does not fit multi-label targets"):
        nbtrain.train((X, Y), loss="bce", metrics="r2", display="none")


# ------------------------------------------------------------------------------------ per position


class Tagger(nn.Module):
    """Token classifier: ids (N, T) -> logits (N, T, C), as transformers' token classifiers give them."""

    def __init__(self, vocab=20, classes=3):
        super().__init__()
        self.emb, self.out = nn.Embedding(vocab, 16), nn.Linear(16, classes)

    def forward(self, ids):
        return self.out(self.emb(ids))


def _tags(n=500, t=10):
    ids = RNG.integers(0, 20, size=(n, t))
    tags = ids % 3
    tags[:, 7:] = -100  # padding: counts nowhere
    return ids, tags


def test_per_position_tags_ignore_minus_100_in_loss_and_metrics():
    ids, tags = _tags()
    run = nbtrain.train((ids, tags), model=Tagger(), epochs=8, lr=0.05, display="none")
    assert run.config["target_kind"] == "positions"
    got = run.evaluate()
    test = run._splits["test"]
    pred = run.predict(test.X.cpu().numpy())
    y = test.y.cpu().numpy()
    assert pred.shape == y.shape
    keep = y != -100
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y[keep], pred[keep]))
    assert got["accuracy"] > 0.95
    # the validation loss is the mean over labelled positions only
    model = run.model.eval()
    with torch.no_grad():
        logits = model(run._splits["val"].X)
    yv = run._splits["val"].y
    want = nn.functional.cross_entropy(logits.movedim(-1, 1), yv, ignore_index=-100).item()
    assert run.history.last["val_loss"] == pytest.approx(want, rel=1e-4)


def test_segmentation_masks_get_accuracy_and_iou_with_per_class_iou_in_evaluate():
    n, h, w = 300, 6, 6
    img = RNG.normal(size=(n, 1, h, w)).astype(np.float32)
    mask = (img[:, 0] > 0.3).astype(np.int64)
    mask[:, 0, :] = -100  # an unlabelled border row
    run = nbtrain.train((img, mask), model=nn.Conv2d(1, 2, 1), epochs=10, lr=0.05, display="none")
    assert {"val_accuracy", "val_iou"} <= set(run.history.last)  # (N, H, W): iou by default
    got = run.evaluate()
    test = run._splits["test"]
    pred, y = run.predict(test.X.cpu().numpy()), test.y.cpu().numpy()
    keep = y != -100
    yt, yp = y[keep], pred[keep]
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(yt, yp))
    assert got["iou"] == pytest.approx(skm.jaccard_score(yt, yp, average="macro"))
    per_class = skm.jaccard_score(yt, yp, average=None)
    assert [got["iou_0"], got["iou_1"]] == pytest.approx(list(per_class))


def test_minus_100_in_a_one_label_a_row_task_is_one_sentence():
    X = RNG.normal(size=(60, 3)).astype(np.float32)
    y = np.arange(60) % 2
    y[5] = -100
    with pytest.raises(DataError, match="-100 marks ignored positions"):
        nbtrain.train((X, y), display="none")


def test_a_dataset_of_variable_length_tags_padded_by_collate():
    class Sentences(torch.utils.data.Dataset):
        def __len__(self):
            return 200

        def __getitem__(self, i):
            n = 4 + i % 5
            ids = torch.as_tensor(RNG_DS.integers(0, 20, size=n))
            return {"input_ids": ids, "labels": ids % 3}

    def pad(items):
        ids = nn.utils.rnn.pad_sequence([it["input_ids"] for it in items], batch_first=True)
        labels = nn.utils.rnn.pad_sequence([it["labels"] for it in items], batch_first=True, padding_value=-100)
        return {"input_ids": ids, "labels": labels}

    class Named(Tagger):
        def forward(self, input_ids):
            return super().forward(input_ids)

    run = nbtrain.train(Sentences(), model=Named(), collate=pad, classes=3, epochs=6, lr=0.05, display="none")
    assert run.config["target_kind"] == "positions"
    assert run.evaluate()["accuracy"] > 0.9  # batches of different lengths are evaluated together


RNG_DS = np.random.default_rng(5)


def test_several_regression_outputs_keep_working():
    X = RNG.normal(size=(300, 4)).astype(np.float32)
    Y = np.c_[X[:, 0] * 2, X[:, 1] - X[:, 2]].astype(np.float32)
    run = nbtrain.train((X, Y), model="linear", epochs=40, lr=0.05, display="none")
    assert run.config["target_kind"] == "values"
    assert run.predict(X[:4]).shape == (4, 2)
    assert run.evaluate()["r2"] > 0.9
