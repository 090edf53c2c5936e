"""Hugging Face ``datasets`` as data: a ``Dataset`` (or a ``DatasetDict``'s splits) read as a torch Dataset.

Imported by :mod:`~nbtrain.core.prepare` only when such an object is given; ``datasets`` itself is
never imported here (the objects bring their own methods).  Items are read through
``with_format("torch", columns=...)``: no copy into Python lists, and only the columns kept.

- splits: a ``DatasetDict``'s ``train`` / ``validation`` / ``test`` become data / val_data / test_data;
- the target column: ``target=``, else ``labels``, else ``label``; it reaches the model as ``labels``
  (the transformers convention: a model that takes ``labels=`` computes its own loss);
- columns the model's ``forward`` does not name are dropped, and one warning line names them
  (``keep_columns=`` keeps more, e.g. for a collator that reads them);
- the classes: a ``ClassLabel`` feature's names (also inside a sequence, for token labels), else a
  classifier's ``model.config.id2label``; nothing reads every row.

>>> data, val, test, target, classes = adapt_hf(dd, None, None, model=bert)   # doctest: +SKIP
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .batch import forward_params
from .errors import ConfigError, DataError, DataTypeError

#: where the target is looked for when ``target=`` does not say
TARGET_COLUMNS = ("labels", "label")
#: the key the target takes in every item (what a transformers model's forward calls it)
LABELS = "labels"
#: a DatasetDict's split names -> train() keywords
SPLITS = {"train": "data", "validation": "val_data", "test": "test_data"}


class ColumnsDroppedWarning(UserWarning):
    """Columns of a Hugging Face Dataset that the model's forward does not take were left out."""


def is_hf(obj) -> bool:
    """A ``datasets.Dataset`` or ``DatasetDict``, told without importing ``datasets``."""
    return type(obj).__module__.split(".")[0] == "datasets" and type(obj).__name__ in ("Dataset", "DatasetDict")


def _is_dict(obj) -> bool:
    return type(obj).__name__ == "DatasetDict"


class HFItems(torch.utils.data.Dataset):
    """A formatted ``datasets.Dataset`` as a torch map-style Dataset of dict items, the target under
    ``"labels"``.  ``targets`` (one scalar label a row) is read column-wise, for the label checks."""

    def __init__(self, ds, column: str, scalar: bool):
        self.ds, self.column, self.scalar = ds, column, scalar

    def __len__(self) -> int:
        return len(self.ds)

    def _rename(self, item: dict) -> dict:
        if self.column is None:  # a causal language model's labels: its input ids (core/lm.py)
            item = dict(item)
            ids = item["input_ids"]
            mask = item.get("attention_mask")
            item[LABELS] = ids.clone() if mask is None else ids.masked_fill(mask == 0, -100)
        elif self.column != LABELS:
            item = dict(item)
            item[LABELS] = item.pop(self.column)
        return item

    def __getitem__(self, i):
        return self._rename(self.ds[int(i)])

    def __getitems__(self, indices):
        # one read of the rows a batch takes (datasets' own batched access), then one dict per row
        rows = self.ds[list(map(int, indices))]
        n = len(indices)
        return [self._rename({k: v[j] for k, v in rows.items()}) for j in range(n)]

    @property
    def made_labels(self) -> bool:
        """True when the labels are made from ``input_ids`` (a causal language model's data)."""
        return self.column is None

    @property
    def targets(self):
        if not self.scalar:
            return None  # per-token labels: the probe batch and the declared classes tell
        return np.asarray(self.ds.with_format("numpy", columns=[self.column])[:][self.column])  # one batched read


def forward_names(model) -> set | None:
    """The argument names the model's ``forward`` declares (``**kwargs`` does not count; a peft model's
    are its base model's: :func:`~nbtrain.core.batch.forward_params`), or None when there is no model of
    the user's own to ask."""
    params = forward_params(model) if isinstance(model, torch.nn.Module) else None
    if params is None:
        return None
    names = {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return names or None  # only *args / **kwargs: it takes anything


def target_column(ds, target, what: str, lm: bool = False) -> str | None:
    cols = list(ds.column_names)
    if target is not None:
        if not isinstance(target, str):
            raise ConfigError(f"target= names a column of the Hugging Face Dataset, got {target!r:.60}.")
        if target not in cols:
            raise DataError(f"{what}: the Dataset has no column {target!r} for target=; its columns are {cols}.")
        return target
    found = next((c for c in TARGET_COLUMNS if c in cols), None)
    if found is None and lm and "input_ids" in cols:
        return None  # a causal language model: the labels are its input ids
    if found is None:
        raise DataError(
            f"{what}: the Dataset has no 'labels' or 'label' column (columns: {cols}); name the target with "
            "target='COLUMN' (--target COLUMN)."
        )
    return found


def _names(feature):
    """A ClassLabel's names, also inside a Sequence/List feature (token labels)."""
    for f in (feature, getattr(feature, "feature", None)):
        names = getattr(f, "names", None)
        if type(f).__name__ == "ClassLabel" and names:
            return list(names)
    return None


def _scalar(feature) -> bool:
    return getattr(feature, "feature", None) is None and type(feature).__name__ in ("ClassLabel", "Value")


def model_classes(model):
    """A classifier's classes from ``model.config.id2label``: its names, or the count where they are
    transformers' defaults (``LABEL_0``...); None for other models."""
    base = getattr(model, "get_base_model", lambda: model)()
    if "Classification" not in type(base).__name__:
        return None
    id2label = getattr(getattr(base, "config", None), "id2label", None)
    if not isinstance(id2label, dict) or len(id2label) < 2:
        return None
    try:
        names = [str(id2label[i]) for i in range(len(id2label))]
    except KeyError:
        return None
    return len(names) if names == [f"LABEL_{i}" for i in range(len(names))] else names


def _kept(ds, column: str, model, keep_columns, what: str, dropped: dict) -> list:
    cols = list(ds.column_names)
    keep = [keep_columns] if isinstance(keep_columns, str) else list(keep_columns or ())
    missing = [c for c in keep if c not in cols]
    if missing:
        raise DataError(f"{what}: keep_columns names {missing}, which the Dataset does not have (columns: {cols}).")
    takes = forward_names(model)
    if takes is None:
        return cols
    kept = [c for c in cols if c == column or c in takes or c in keep or (column is None and c == "input_ids")]
    for c in cols:
        if c not in kept:
            dropped.setdefault(c, []).append(what)
    return kept


def _say_dropped(dropped: dict, model) -> None:
    """One line for every split: which columns were left out, and how to keep them."""
    if not dropped:
        return
    names = ", ".join(dropped)
    warnings.warn(
        f"left out the column{'s' if len(dropped) > 1 else ''} {names}, which {type(model).__name__}.forward "
        "does not take (keep_columns=[...] keeps them, e.g. for a collator).",
        ColumnsDroppedWarning,
        stacklevel=5,
    )


def _items(ds, target, model, keep_columns, what: str, dropped: dict):
    if _is_dict(ds):
        raise DataTypeError(f"{what} is a DatasetDict; give one of its splits, e.g. dd['validation'].")
    if len(ds) == 0:
        raise DataError(f"{what} is an empty Dataset.")
    from .lm import is_causal_lm

    column = target_column(ds, target, what, lm=is_causal_lm(model))
    kept = _kept(ds, column, model, keep_columns, what, dropped)
    feature = ds.features[column] if column is not None else None
    scalar = column is not None and _scalar(feature)
    return HFItems(ds.with_format("torch", columns=kept), column, scalar), feature


def adapt_hf(data, val_data, test_data, *, model=None, target=None, keep_columns=None):
    """``(data, val_data, test_data, target, classes)`` as the torch Dataset path takes them;
    ``classes`` is what the features or the model say (names or a count), or None."""
    if _is_dict(data):
        unknown = [k for k in data if k not in SPLITS]
        if "train" not in data:
            raise DataError(f"the DatasetDict has no 'train' split (splits: {list(data)}).")
        for split, given in (("validation", val_data), ("test", test_data)):
            if split in data and given is not None:
                raise ConfigError(
                    f"the DatasetDict has a {split!r} split and {SPLITS[split]}= was given too; keep one of them."
                )
        if unknown:
            warnings.warn(
                f"the DatasetDict's split{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                "are not used (train, validation and test are).",
                ColumnsDroppedWarning,
                stacklevel=4,
            )
        data, val_data, test_data = data["train"], data.get("validation", val_data), data.get("test", test_data)
    out, dropped = [], {}
    feature = None
    for what, ds in (("data", data), ("val_data", val_data), ("test_data", test_data)):
        if ds is None:
            out.append(None)
            continue
        if not is_hf(ds):
            raise DataTypeError(f"{what} must be a Hugging Face Dataset too when data is one, got {type(ds).__name__}.")
        items, f = _items(ds, target, model, keep_columns, what, dropped)
        feature = feature if feature is not None else f
        out.append(items)
    _say_dropped(dropped, model)
    from .lm import is_causal_lm, vocab_size

    classes = _names(feature)
    if classes is None:
        classes = vocab_size(model) if is_causal_lm(model) else model_classes(model)  # an LM: its vocabulary
    return (*out, LABELS, classes)
