"""Common data pitfalls, said in one line before training (never silent, never an error).

- An identifier-like column (a different value in every row) or a very high-cardinality one headed
  for ``onehot``: one feature per value, which a model can only memorise.  The line names the columns
  and the preset that leaves them out (``drop:COLUMN``).

The lines reach the run's views as hints (``Callback.on_hint``: the panel's hint line, the console),
or a ``HintWarning`` where no view shows hints; ``run.hints`` keeps them.

>>> import pandas as pd
>>> df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(40)], "plan": ["a", "b"] * 20})
>>> print(onehot_hints(df, onehot=True, dropped=[])[0])  # doctest: +ELLIPSIS
column 'customer_id' has a different value in every row (an identifier?): onehot would make 40 features ...
"""

from __future__ import annotations

from .events import Callback

#: fewer rows than this: too few to tell an identifier from a small table
MIN_ROWS = 20
#: a categorical column with more distinct values than this share of the rows (and MANY at least) is flagged
SHARE, MANY = 0.5, 50


def onehot_hints(X, *, onehot: bool, dropped) -> list:
    """Hints for the categorical DataFrame columns ``onehot`` would encode (``dropped`` ones left out)."""
    if not onehot or not hasattr(X, "columns") or len(X) < MIN_ROWS:
        return []
    n = len(X)
    ids, wide = [], []
    for c in X.columns:
        if c in dropped or X[c].dtype.kind in "biuf":
            continue
        k = int(X[c].nunique(dropna=True))
        if k == n:
            ids.append((c, k))
        elif k > max(MANY, SHARE * n):
            wide.append((c, k))
    out = []
    if ids:
        one = len(ids) == 1
        names, cols = ", ".join(repr(str(c)) for c, _ in ids), ",".join(str(c) for c, _ in ids)
        what = "has a different value in every row (an identifier?)" if one else "have one value a row (identifiers?)"
        out.append(
            f"column{'' if one else 's'} {names} {what}: onehot would make {sum(k for _, k in ids)} features "
            f'a model can only memorise; leave {"it" if one else "them"} out with preprocess="drop:{cols} | ...".'
        )
    if wide:
        one = len(wide) == 1
        names, cols = ", ".join(f"{str(c)!r} ({k} values)" for c, k in wide), ",".join(str(c) for c, _ in wide)
        out.append(
            f"high-cardinality column{'' if one else 's'} {names} in {n} rows: onehot makes one feature per "
            f'value (overfitting risk); leave {"it" if one else "them"} out with "drop:{cols}" or group rare values.'
        )
    return out


def data_hints(source, spec) -> list:
    """Every pitfall hint for declared data ``source`` (a Table; a Dataset has none) and its preprocessing."""
    X = getattr(source, "X", None)
    if X is None or getattr(spec, "transformer", None) is not None:
        return []
    return onehot_hints(X, onehot=spec.has("onehot"), dropped=spec.dropped)


class PendingHints(Callback):
    """Says the hints found before training once the views have started (put it last in the list)."""

    def __init__(self, callbacks, messages):
        self.callbacks, self.messages = callbacks, list(messages)

    def on_fit_start(self, run, **kw):
        messages, self.messages = self.messages, []
        for m in messages:
            self.callbacks.on_hint(run, m)
