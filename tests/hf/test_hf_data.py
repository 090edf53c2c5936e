"""Hugging Face datasets as data (issue 20 item 1) with transformers classifiers (item 2): splits of a
DatasetDict, the target column, columns dropped with one line, classes without reading every row."""

import warnings

import numpy as np
import pytest
import torch
from hf_helpers import sentiment_dict, tiny_bert
from sklearn.metrics import accuracy_score

import nbtrain
from nbtrain.core.errors import ConfigError, DataError, DataTypeError
from nbtrain.core.hf import ColumnsDroppedWarning
from nbtrain.core.sources.torch_items import LabelsReadWarning


def _logits(model, ds):
    """The model's own logits on a split, computed here (not through nbtrain)."""
    cols = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in ds.column_names]
    t = ds.with_format("torch", columns=cols)[:]
    with torch.no_grad():
        return model.eval()(**{k: t[k] for k in cols}).logits


def test_a_dataset_dict_trains_a_bert_classifier_with_class_names_and_drops_the_text_column(tokenizer):
    dd = sentiment_dict(tokenizer)
    model = tiny_bert(tokenizer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", LabelsReadWarning)  # classes come from the ClassLabel, no pass over rows
        run = nbtrain.train(dd, model=model, epochs=4, lr=3e-3, batch_size=32, display="none")
    dropped = [str(w.message) for w in caught if issubclass(w.category, ColumnsDroppedWarning)]
    assert dropped == [
        "left out the column text, which BertForSequenceClassification.forward does not take (keep_columns=[...] "
        "keeps them, e.g. for a collator)."
    ]
    assert run.status == "completed" and run.config["loss"] == "model's own"
    assert list(run.classes) == ["neg", "pos"]
    # the splits are the DatasetDict's own: validation as val, test as test, none cut from train
    assert run.config.get("n_train", len(dd["train"])) == len(dd["train"])
    values = run.evaluate("test")
    want = accuracy_score(np.asarray(dd["test"]["label"]), _logits(run.model, dd["test"]).argmax(1).numpy())
    assert values["accuracy"] == pytest.approx(want)
    assert values["accuracy"] > 0.9
    pred = run.predictions("test")
    assert set(pred["y_pred"]) <= {"neg", "pos"}


def test_a_collator_pads_per_batch_and_keep_columns_keeps_what_it_reads(tokenizer):
    from transformers import DataCollatorWithPadding

    dd = sentiment_dict(tokenizer, n=200, pad=False)
    seen = []

    def collate(items):
        seen.append(sorted(items[0]))
        return DataCollatorWithPadding(tokenizer)([{k: v for k, v in i.items() if k != "text"} for i in items])

    run = nbtrain.train(
        dd["train"], val_data=dd["validation"], test=0, model=tiny_bert(tokenizer), collate=collate,
        keep_columns=["text"], epochs=1, display="none",
    )  # fmt: skip
    assert run.status == "completed"
    assert seen[0] == ["attention_mask", "input_ids", "labels", "text"]
    lengths = {len(t) for t in dd["train"]["input_ids"]}
    assert len(lengths) > 1  # the items really differ in length: the collator padded them


def test_target_names_another_column_and_the_model_config_gives_the_classes(tokenizer):
    from datasets import Dataset

    dd = sentiment_dict(tokenizer, n=200)
    train = Dataset.from_dict(
        {"input_ids": dd["train"]["input_ids"], "attention_mask": dd["train"]["attention_mask"],
         "sentiment": dd["train"]["label"]}
    )  # fmt: skip
    model = tiny_bert(tokenizer, num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelsReadWarning)
        run = nbtrain.train(train, target="sentiment", model=model, epochs=1, display="none")
    assert list(run.classes) == ["bad", "good"]


def test_mistakes_are_one_sentence_before_training(tokenizer):
    dd = sentiment_dict(tokenizer, n=100)
    model = tiny_bert(tokenizer)
    with pytest.raises(DataError, match="no column 'stars'"):
        nbtrain.train(dd, target="stars", model=model, display="none")
    with pytest.raises(DataError, match="keep_columns names \\['txt'\\]"):
        nbtrain.train(dd, keep_columns=["txt"], model=model, display="none")
    with pytest.raises(ConfigError, match="'validation' split and val_data= was given"):
        nbtrain.train(dd, val_data=dd["validation"], model=model, display="none")
    with pytest.raises(DataTypeError, match="val_data must be a Hugging Face Dataset too"):
        nbtrain.train(dd["train"], val_data=(np.zeros((3, 2)), [0, 1, 0]), model=model, display="none")
    with pytest.raises(ConfigError, match="keep_columns= names columns of a Hugging Face Dataset"):
        nbtrain.train((np.zeros((10, 2)), [0, 1] * 5), keep_columns=["a"], display="none")
    no_label = dd["train"].remove_columns(["label"])
    with pytest.raises(DataError, match="no 'labels' or 'label' column"):
        nbtrain.train(no_label, model=model, display="none")


def test_token_classification_takes_the_names_of_a_class_label_sequence(tokenizer):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    dd = sentiment_dict(tokenizer, n=300)
    good = set(tokenizer.convert_tokens_to_ids(["good", "great", "fine", "lovely", "nice"]))
    bad = set(tokenizer.convert_tokens_to_ids(["bad", "awful", "poor", "ugly", "sad"]))

    def tags(ids, mask):  # 1 for a positive word, 2 for a negative one, 0 else, -100 on padding
        return [-100 if m == 0 else 1 if i in good else 2 if i in bad else 0 for i, m in zip(ids, mask)]

    ds = dd["train"]
    features = Features(
        {"input_ids": Sequence(Value("int64")), "attention_mask": Sequence(Value("int64")),
         "tags": Sequence(ClassLabel(names=["O", "POS", "NEG"]))}
    )  # fmt: skip
    tok = Dataset.from_dict(
        {"input_ids": ds["input_ids"], "attention_mask": ds["attention_mask"],
         "tags": [[max(t, 0) for t in tags(i, m)] for i, m in zip(ds["input_ids"], ds["attention_mask"])]},
        features=features,
    )  # fmt: skip
    # -100 on padding: a ClassLabel sequence cannot hold it, so the column is cast to plain integers
    tok = tok.map(lambda r: {"labels": tags(r["input_ids"], r["attention_mask"])}).remove_columns("tags")
    tok = tok.cast_column("labels", Sequence(Value("int64")))
    model = tiny_bert(tokenizer, kind="ForTokenClassification", num_labels=3,
                      id2label={0: "O", 1: "POS", 2: "NEG"}, label2id={"O": 0, "POS": 1, "NEG": 2})  # fmt: skip
    run = nbtrain.train(tok, model=model, epochs=6, lr=5e-3, display="none")
    assert list(run.classes) == ["O", "POS", "NEG"]
    assert run.config["target_kind"] == "positions"
    values = run.evaluate("test")
    assert values["accuracy"] > 0.9
