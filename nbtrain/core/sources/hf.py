"""The Hugging Face adapter: a ``datasets.Dataset`` (or a ``DatasetDict``'s train / validation / test
splits) becomes :class:`~.table.Items` whose dict items carry the target under ``"labels"``.

The column work (the target column, the columns the model's ``forward`` does not take, the class
names of a ``ClassLabel``) is :func:`nbtrain.core.hf.adapt_hf`'s; ``datasets`` is never imported:
the objects bring their own methods.  This adapter takes the whole declaration at once
(:func:`adapt_all`), since one ``DatasetDict`` declares all three splits.

>>> adapt_all(dd, None, None, Context(model=bert))     # Declared(data=Items, val=Items, ...)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings

from .interface import Declared
from .torch_items import Items


def claims(data) -> bool:
    return type(data).__module__.split(".")[0] == "datasets"


def adapt_all(data, val_data, test_data, ctx):
    from ..hf import ColumnsDroppedWarning, adapt_hf  # Hugging Face glue: only when such an object is given

    with warnings.catch_warnings(record=True) as said:  # said again below, from the user's own call
        warnings.simplefilter("always")
        data, val_data, test_data, target, classes = adapt_hf(
            data, val_data, test_data, model=ctx.model, target=ctx.target, keep_columns=ctx.keep_columns
        )
    for w in said:
        if issubclass(w.category, ColumnsDroppedWarning):  # this adapter, adapt_all, prepare, train, the user
            warnings.warn(w.message, w.category, stacklevel=5)
        else:  # a library's own warning: from where it was raised, under the filters as they were
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    collate = ctx.collate
    if collate is not None and getattr(data, "made_labels", False):  # a causal LM's collator makes its own
        from ..lm import strip_labels

        collate = strip_labels(collate)
    items = [
        None if ds is None else Items(ds, target=target, collate=collate, what=what)
        for what, ds in (("data", data), ("val_data", val_data), ("test_data", test_data))
    ]
    return Declared(*items, target=target, classes=classes)
