"""What ``%explain`` shows, as a plain function (the magic's twin): the top losses, the most-confused
classes, permutation importance and attribution maps.

Every part is static output that a saved notebook keeps: tables as HTML with a text twin, figures as
PNG (matplotlib, without pyplot) with a short stable text form.  No widgets.

>>> res = explain(run, top=9, importance=True)    # doctest: +SKIP
>>> res.explanation.top_losses(3)                  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from .evaluation import FigureDisplay, Table, _show
from .format import format_value

#: feature columns a top-losses row shows for tabular data (the rest are in ex.inputs)
ROW_COLUMNS = 8


class ExplainResult:
    """``%explain``'s result: the :class:`~nbtrain.core.explain.Explanation` and what shows of it."""

    def __init__(self, explanation, parts):
        self.explanation, self.parts = explanation, list(parts)

    def _ipython_display_(self):
        _show(*self.parts)

    def __repr__(self) -> str:
        return "\n\n".join(repr(p) for p in self.parts)


def is_image(inputs) -> bool:
    """Rows of (C, H, W) with 1 or 3 channels, or (H, W): shown as thumbnails."""
    from ..core.explain_data import DatasetRows, structured

    if isinstance(inputs, DatasetRows):
        sample = inputs[0]
        if structured(sample):
            return False
        shape = (len(inputs), *np.shape(sample))
    elif hasattr(inputs, "columns") or structured(inputs):
        return False
    else:
        shape = np.shape(inputs)
    return len(shape) == 3 or (len(shape) == 4 and shape[1] in (1, 3))


def _image(a):
    """One sample as something imshow draws: (H, W) grey or (H, W, 3), scaled to 0..1."""
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else np.transpose(a, (1, 2, 0))
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _grid(n: int, cols: int = 3, size: float = 2.0, rows_per_item: int = 1):
    from matplotlib.figure import Figure

    cols = min(cols, n)
    rows = -(-n // cols) * rows_per_item
    fig = Figure(figsize=(size * cols, size * rows * 1.1))
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(rows * cols)]


def _label(row) -> str:
    text = f"{row['target']} / {row['prediction']}\nloss {format_value(float(row['loss']))}"
    if "probability" in row:
        text += f", p {format_value(float(row['probability']))}"
    return text


def top_losses_part(ex, k: int):
    """Image thumbnails (true / predicted / loss above each), else a table of the rows."""
    top = ex.top_losses(k)
    records = top.to_dict("records")  # per-column types kept (iterrows would make integer labels floats)
    name = ex.run.name
    if is_image(ex.inputs):
        fig, axes = _grid(len(top))
        for ax, row in zip(axes, records):
            ax.imshow(_image(ex.inputs[int(row["index"])]), cmap="gray")
            ax.set_title(_label(row), fontsize=8)
        for ax in axes:
            ax.set_axis_off()
        fig.suptitle(f"{name}: top {len(top)} losses ({ex.on}); true / predicted", fontsize=10)
        return FigureDisplay(fig, f"top {len(top)} losses of {name} on {ex.on}")
    columns = list(top.columns)
    rows = [[r[c] if c in ("index", "target", "prediction") else float(r[c]) for c in columns] for r in records]
    features = _row_cells(ex, [int(r["index"]) for r in records])
    if features is not None:
        names, cells = features
        columns += names
        rows = [r + c for r, c in zip(rows, cells)]
    note = f"loss: {ex.loss_name}" + (
        f"; {len(_feature_names(ex.inputs))} columns, first {ROW_COLUMNS} shown"
        if features and len(_feature_names(ex.inputs)) > ROW_COLUMNS
        else ""
    )
    return Table(columns, rows, title=f"{name}: top {len(top)} losses ({ex.on})", note=note)


def _feature_names(inputs):
    if hasattr(inputs, "columns"):
        return [str(c) for c in inputs.columns]
    shape = np.shape(inputs)
    return [f"x{i}" for i in range(shape[1])] if len(shape) == 2 else []


def _row_cells(ex, idx):
    from ..core.batch import named_leaves
    from ..core.explain_data import structured
    from .tokens import texts

    inputs = ex.inputs
    if structured(inputs) or (ex.run.config.get("int_inputs") and np.asarray(inputs[:1]).dtype.kind in "iu"):
        x = ex.take(idx)
        words = texts(ex, x)
        if words is not None:
            return ["text"], [[_short(w, 100)] for w in words]
        if not structured(x):
            if np.ndim(x) != 2 or np.asarray(x).dtype.kind in "iu":
                return None  # images (thumbnails), token ids without a tokenizer's reading
            return [f"x{j}" for j in range(min(ROW_COLUMNS, x.shape[1]))], np.asarray(x)[:, :ROW_COLUMNS].tolist()
        leaves = named_leaves(x)[:ROW_COLUMNS]
        return [p or "x" for p, _ in leaves], [[_cell(a[n]) for _, a in leaves] for n in range(len(idx))]
    names = _feature_names(inputs)
    if not names:
        return None
    if hasattr(inputs, "iloc"):
        values = inputs.iloc[idx, :ROW_COLUMNS].to_numpy().tolist()
    else:
        values = np.asarray(inputs)[idx, :ROW_COLUMNS].tolist()
    return names[:ROW_COLUMNS], values


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _cell(a):
    """One row's entry of an input: a number, or a few numbers."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a.item()
    return _short(np.array2string(a.ravel()[:6], precision=3, separator=", "), 40)


def confused_part(ex, k: int = 5):
    pairs = ex.most_confused(k)
    title = f"{ex.run.name}: most confused ({ex.on})"
    if not pairs:
        return Table(["true", "predicted", "count"], [], title=title, note="no mistakes on these rows")
    return Table(["true", "predicted", "count"], [list(p) for p in pairs], title=title)


def importance_figure(frame, title: str):
    from matplotlib.figure import Figure

    shown = frame.head(20).iloc[::-1]  # the most important on top
    fig = Figure(figsize=(5.0, 0.9 + 0.3 * len(shown)))
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(shown["feature"].astype(str), shown["importance"], xerr=shown["std"], color="C0", capsize=3)
    ax.axvline(0, color="grey", linewidth=1)
    metric = frame.attrs.get("metric", "metric")
    ax.set_xlabel(f"worsening of {metric} when shuffled (mean ± std)")
    ax.set_title(title)
    return fig


def importance_part(ex, n_repeats: int = 5, progress=True):
    frame = ex.importance(n_repeats=n_repeats, progress=progress)
    label = f"permutation importance of {ex.run.name} on {ex.on}"
    fig = importance_figure(frame, f"{ex.run.name}: permutation importance ({ex.on})")
    return FigureDisplay(fig, label)


def attribution_figure(ex, idx, attr, title: str, names=None):
    """Images: each top-loss row beside its attribution map (red: for the predicted class, blue: against).
    Tabular: one heat map, rows by columns."""
    from matplotlib.figure import Figure

    if names is None and is_image(ex.inputs):
        fig, axes = _grid(len(idx), cols=3, size=2.0, rows_per_item=2)
        cols = min(3, len(idx))
        for n, i in enumerate(idx):
            top, bottom = axes[(n // cols) * 2 * cols + n % cols], axes[(n // cols) * 2 * cols + cols + n % cols]
            top.imshow(_image(ex.inputs[i]), cmap="gray")
            top.set_title(f"row {i}: {ex.predictions[i]}", fontsize=8)
            a = np.asarray(attr[n], dtype=np.float32)
            a = a.sum(axis=0) if a.ndim == 3 else a
            m = float(np.abs(a).max()) or 1.0
            bottom.imshow(a, cmap="RdBu_r", vmin=-m, vmax=m)
        for ax in axes:
            ax.set_axis_off()
        fig.suptitle(title, fontsize=10)
        return fig
    a = np.asarray(attr, dtype=np.float32).reshape(len(idx), -1)
    names = names or _feature_names(ex.inputs) or [f"x{j}" for j in range(a.shape[1])]
    fig = Figure(figsize=(min(12.0, 1.5 + 0.45 * a.shape[1]), 1.2 + 0.35 * len(idx)))
    ax = fig.add_subplot(1, 1, 1)
    m = float(np.abs(a).max()) or 1.0
    im = ax.imshow(a, cmap="RdBu_r", vmin=-m, vmax=m, aspect="auto")
    ax.set_xticks(
        range(len(names)), names, rotation=45 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center"
    )
    ax.set_yticks(range(len(idx)), [f"row {i}" for i in idx])
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title)
    return fig


def attribution_part(ex, k: int, method: str = "integrated_gradients", progress=True, layer=None):
    from ..core.batch import named_leaves
    from ..core.explain_data import structured
    from .tokens import token_view

    idx = [int(i) for i in ex.top_losses(k)["index"]]
    x = ex.take(idx)
    attr = ex.attribute(x, method=method, progress=progress, layer=layer)
    what = method.replace("_", " ")
    label = f"{what} of {ex.run.name}'s top {len(idx)} losses on {ex.on}"
    view = token_view(
        ex, idx, x, attr, f"{ex.run.name}: {what} of the top losses, per token (each row: true / predicted)", label
    )
    if view is not None:
        return view
    if structured(x):  # one column an entry of a 1-D or 2-D input (larger ones summed to one number a row)
        names, cols = [], []
        for path, a in named_leaves(attr):
            a = np.asarray(a).reshape(len(idx), -1)
            if np.ndim(dict(named_leaves(x))[path]) > 2:
                a = a.sum(axis=1, keepdims=True)
            names += [path or "x"] if a.shape[1] == 1 else [f"{path}[{c}]" for c in range(a.shape[1])]
            cols.append(a)
        attr = np.concatenate(cols, axis=1)
        fig = attribution_figure(ex, idx, attr, f"{ex.run.name}: {what} of the top losses, predicted class", names)
        return FigureDisplay(fig, label)
    attr = attr.to_numpy() if hasattr(attr, "to_numpy") else attr
    fig = attribution_figure(ex, idx, attr, f"{ex.run.name}: {what} of the top losses, predicted class")
    return FigureDisplay(fig, f"{what} of {ex.run.name}'s top {len(idx)} losses on {ex.on}")


def explain(
    run,
    on="test",
    data=None,
    top: int = 9,
    importance: bool = False,
    attribute: bool = False,
    method: str = "integrated_gradients",
    n_repeats: int = 5,
    progress: bool = True,
    tokenizer=None,
    layer=None,
) -> ExplainResult:
    """Explain ``run`` on a split (or ``data=(X, y)``): the top ``top`` losses and the most-confused
    classes; with ``importance=True`` a permutation-importance chart, with ``attribute=True`` attribution
    maps of the top-loss rows (per-token colours for token ids; ``tokenizer`` reads them as text,
    default ``run.tokenizer``; ``layer``: the layer token ids are attributed through, by name).
    ``progress=False``: no progress line on stderr (a notebook checked by nbval, where a line that shows
    only on a slow machine would differ)."""
    ex = run.explain(on=on, data=data, tokenizer=tokenizer)
    parts = [top_losses_part(ex, top)]
    if ex.classification:
        parts.append(confused_part(ex))
    if importance:
        parts.append(importance_part(ex, n_repeats, progress))
    if attribute:
        parts.append(attribution_part(ex, top, method, progress, layer))
    return ExplainResult(ex, parts)
