"""Tiny Hugging Face pieces built on the spot (nothing downloaded): a word-level tokenizer trained on
the sentences, a 2-layer 32-wide BERT from a config, datasets built from dicts."""

import warnings

import numpy as np

GOOD = ["good", "great", "fine", "lovely", "nice"]
BAD = ["bad", "awful", "poor", "ugly", "sad"]
FILL = ["the", "movie", "was", "a", "plot", "very", "really", "and", "it", "film", "story", "so"]
MAX_LEN = 12


def sentences(n, seed=0):
    """Keyword sentiment: a sentence with a word of GOOD is positive (1), of BAD negative (0)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(0, 2))
        words = list(rng.choice(FILL, size=int(rng.integers(3, 8))))
        words.insert(int(rng.integers(0, len(words))), str(rng.choice(GOOD if y else BAD)))
        texts.append(" ".join(words))
        labels.append(y)
    return texts, labels


def make_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    tok.train_from_iterator([" ".join(GOOD + BAD + FILL)], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )


def sentiment_dict(tokenizer, n=600, pad=True, seed=0):
    """A DatasetDict (train / validation / test) with text, token columns and a ClassLabel label."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    texts, labels = sentences(n, seed)
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    ds = Dataset.from_dict({"text": texts, "label": labels}, features=features)
    kw = dict(padding="max_length", max_length=MAX_LEN) if pad else dict(max_length=MAX_LEN)
    ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, **kw), batched=True)
    a = ds.train_test_split(test_size=0.2, seed=seed)
    b = a["train"].train_test_split(test_size=0.2, seed=seed + 1)
    return DatasetDict(train=b["train"], validation=b["test"], test=a["test"])


def tiny_bert(tokenizer, kind="ForSequenceClassification", num_labels=2, **kw):
    import transformers

    config = transformers.BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=32, num_labels=num_labels, **kw,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(transformers, "Bert" + kind)(config)


def lm_dict(tokenizer, n=300, pad=False, seed=0):
    """A DatasetDict of short sentences as token ids for a causal language model (no label column)."""
    from datasets import Dataset, DatasetDict

    texts, _ = sentences(n, seed)
    kw = dict(padding="max_length", max_length=MAX_LEN) if pad else dict(max_length=MAX_LEN)
    ds = Dataset.from_dict({"text": texts}).map(lambda b: tokenizer(b["text"], truncation=True, **kw), batched=True)
    ds = ds.remove_columns([c for c in ds.column_names if c not in ("input_ids", "attention_mask")])
    a = ds.train_test_split(test_size=0.2, seed=seed)
    b = a["train"].train_test_split(test_size=0.2, seed=seed + 1)
    return DatasetDict(train=b["train"], validation=b["test"], test=a["test"])


def tiny_gpt2(tokenizer):
    import transformers

    config = transformers.GPT2Config(
        vocab_size=len(tokenizer), n_positions=16, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=None, eos_token_id=None, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transformers.GPT2LMHeadModel(config)
