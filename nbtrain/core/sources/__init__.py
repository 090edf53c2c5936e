"""Sources: every kind of declared data, adapted once, by one adapter, to one small interface.

The data path starts here and never comes back (see ``docs/architecture.md``)::

    data, val_data, test_data ──adapt_all──► Declared(data, val, test: Table | Items, target, classes)
        ──► labels (task, codec) ──► split ──► preprocess (fit on train) ──► batches

**An adapter** is a module with two functions:

- ``claims(data) -> bool``: whether this adapter reads ``data`` (cheap: a type test, no import of
  an optional library);
- ``adapt(data, ctx) -> Table | Items``: the source, checked (one ``NbtrainError`` sentence for a
  bad one).  ``ctx`` is a :class:`Context`: ``target`` (a column or key name), ``what`` (``"data"``,
  ``"val_data"``, ``"test_data"``: the name to use in messages), ``collate``, ``model``,
  ``keep_columns``.  Nothing is read that later stages do not need; an :class:`~.table.Items` reads
  its first items only when asked (``probe``).

An adapter for a container of several splits (a Hugging Face ``DatasetDict``) gives
``adapt_all(data, val_data, test_data, ctx) -> Declared`` instead of ``adapt``.

The two forms an adapter returns (:mod:`.table`) share ``what``, ``in_memory``, ``len()`` and
``known_targets()``: a :class:`~.table.Table` holds rows in memory (``X``, ``y``; ``take(idx)``), an
:class:`~.table.Items` a torch ``Dataset`` read item by item (``probe()``, ``read_labels()``,
``target``, ``collate``, ``classes``).  A new kind of source is a new module here, added to
:data:`ADAPTERS`; nothing after this package changes.

>>> adapt_all((X, y), None, None).data          # Table(X=..., y=...)    # doctest: +SKIP
"""

from __future__ import annotations

from ..errors import ConfigError, DataError, DataTypeError
from . import arrays, frames, hf, torch_items
from .interface import Context, Declared, Source, Table
from .torch_items import Items

#: tried in this order: the first whose ``claims`` says yes adapts the data
ADAPTERS = (hf, torch_items, frames, arrays)

__all__ = ["ADAPTERS", "Context", "Declared", "Items", "Source", "Table", "adapt", "adapt_all"]


def adapt(data, ctx: Context | None = None):
    """One declared value -> a :class:`Table` or an :class:`Items`, by the first adapter that claims it."""
    ctx = ctx or Context()
    if data is None:
        raise DataError(
            f"no {ctx.what} was given: declare e.g. `{ctx.what} = (X, y)` or `{ctx.what} = load_iris(return_X_y=True)`."
        )
    for adapter in ADAPTERS:
        if adapter.claims(data) and hasattr(adapter, "adapt"):
            return adapter.adapt(data, ctx)
    raise DataTypeError(
        f"{ctx.what} has unsupported form {type(data).__name__}; give (X, y), a DataFrame with "
        "target='COLUMN', a scikit-learn Bunch or a torch Dataset."
    )


def adapt_all(data, val_data=None, test_data=None, *, target=None, collate=None, model=None, keep_columns=None):
    """``data``, ``val_data`` and ``test_data`` -> :class:`Declared`: each adapted once, all of one form
    (in memory, or Datasets)."""
    ctx = Context(target=target, collate=collate, model=model, keep_columns=keep_columns)
    for adapter in ADAPTERS:
        if hasattr(adapter, "adapt_all") and any(adapter.claims(d) for d in (data, val_data, test_data)):
            return adapter.adapt_all(data, val_data, test_data, ctx)
    if keep_columns is not None:
        raise ConfigError("keep_columns= names columns of a Hugging Face Dataset to keep; data is not one.")
    source = adapt(data, ctx)
    out = {}
    for what, given in (("val_data", val_data), ("test_data", test_data)):
        if given is None:
            out[what] = None
            continue
        if source.in_memory and torch_items.claims(given):
            raise DataTypeError("val_data/test_data must be in-memory like data when data is (X, y).")
        if not source.in_memory and not torch_items.claims(given):
            raise DataTypeError(f"{what.removesuffix('_data')}_data must be a Dataset too when data is a Dataset.")
        out[what] = adapt(given, Context(target=target, what=what, collate=collate, model=model))
    _same_columns(source, out)
    return Declared(source, out["val_data"], out["test_data"], target=target)


def _same_columns(source, others) -> None:
    """A target given as a DataFrame of 0/1 columns names its classes (``Table.classes``);
    ``val_data`` / ``test_data`` must name the same ones in the same order."""
    names = getattr(source, "classes", None) if source.in_memory else None
    for what, other in others.items():
        theirs = getattr(other, "classes", None) if other is not None else None
        if names is not None and theirs is not None and list(theirs) != list(names):
            raise DataError(
                f"{what}'s target columns are {list(theirs)} but data's are {list(names)}; give the same class "
                "columns in the same order."
            )
