"""What ``%evaluate``, ``%runs`` and ``%compare`` show, as plain functions (the magics' twins).

Tables render as HTML with a stable plain-text twin; figures are matplotlib ``Figure`` objects made
without pyplot (nothing to close, nothing shown twice) and display as PNG.

>>> res = evaluate(run, plot="confusion")          # doctest: +SKIP
>>> res["accuracy"], res.figures                   # doctest: +SKIP
"""

from __future__ import annotations

import io

import numpy as np

from .format import Table as _Table
from .format import duration, format_value, wants_log

PLOTS = {"classification": ("confusion", "roc"), "regression": ("pred",)}


class Table(_Table):
    """A small table from a header and rows of cells: ``Table(["metric", "value"], [["accuracy", 0.97]])``.

    The one table of :mod:`nbtrain.display.format` (``_repr_html_``, and ``repr`` as aligned text that
    nbval compares); ``highlight`` holds the indices of rows to mark ``*`` (e.g. differing settings)."""

    def __init__(self, columns, rows, title: str = "", highlight=(), note: str = ""):
        columns = [str(c) for c in columns]
        super().__init__(
            [dict(zip(columns, r)) for r in rows],
            columns,
            highlight=set(highlight),
            title=title or None,
            footer=note or None,
        )
        self.note = note


class FigureDisplay:
    """A matplotlib Figure shown as PNG, with a short stable text form."""

    def __init__(self, figure, label: str):
        self.figure, self.label = figure, label

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        return buf.getvalue()

    def __repr__(self) -> str:
        return f"<Figure: {self.label}>"


def _show(*objs) -> None:
    from IPython.display import display

    for o in objs:
        display(o)


class EvalResult(dict):
    """The metrics dict returned by ``%evaluate`` / :func:`evaluate`; displays as a table (+ plots)."""

    def __init__(self, metrics: dict, table: Table, figures=(), classes: Table | None = None):
        super().__init__(metrics)
        self.table = table
        self.figures = list(figures)  # FigureDisplay objects; .figure is the matplotlib Figure
        self.classes = classes  # one row per class name (runs whose classes have names), or None

    def _ipython_display_(self):
        _show(self.table, *([self.classes] if self.classes is not None else []), *self.figures)


# ---------------------------------------------------------------------------- figures
def _figure(w=4.5, h=4.0):
    from matplotlib.figure import Figure  # no pyplot: the figure is never registered or shown twice

    fig = Figure(figsize=(w, h))
    return fig, fig.add_subplot(1, 1, 1)


def confusion_figure(y_true, y_pred, classes, title="confusion matrix"):
    from sklearn.metrics import confusion_matrix

    labels = list(range(len(classes)))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    fig, ax = _figure()
    ax.imshow(cm, cmap="Blues")
    names = [str(c) for c in classes]
    ax.set_xticks(labels, names, rotation=45 if len(names) > 4 else 0)
    ax.set_yticks(labels, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    top = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > top / 2 else "black")
    return fig


def roc_figure(y_true, scores, classes, title="ROC curve"):
    from sklearn.metrics import auc, roc_curve

    fig, ax = _figure()
    pairs = [(1, str(classes[1]))] if len(classes) == 2 else list(enumerate(str(c) for c in classes))
    for k, name in pairs:
        positive = np.asarray(y_true) == k
        if positive.all() or not positive.any():
            continue  # undefined for a class that is absent (or alone) in this split
        fpr, tpr, _ = roc_curve(positive, scores[:, k])
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:  # an empty legend would warn
        ax.legend(loc="lower right", fontsize="small")
    return fig


def pred_vs_true_figure(y_true, y_pred, title="predicted vs true"):
    t, p = np.asarray(y_true, dtype=float).reshape(-1), np.asarray(y_pred, dtype=float).reshape(-1)
    fig, ax = _figure()
    ax.scatter(t, p, s=12, alpha=0.7)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    return fig


def loss_curves_figure(runs, title="loss curves"):
    fig, ax = _figure(6.0, 4.0)
    for i, run in enumerate(runs):
        color = f"C{i % 10}"
        epochs = run.history["epoch"] if len(run.history) else []
        for key, style in (("train_loss", "-"), ("val_loss", "--")):
            if key in run.history:
                ax.plot(epochs, run.history[key], style, color=color, label=f"{run.name} {key.split('_')[0]}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    vals = [v for r in runs for k in ("train_loss", "val_loss") if k in r.history for v in r.history[k]]
    if wants_log(vals):  # the rule every loss axis follows
        ax.set_yscale("log")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return fig


# ---------------------------------------------------------------------------- the magics' twins
def parse_plots(plot, task: str = "classification") -> list:
    """ "confusion,roc" -> ["confusion", "roc"]; a name that does not fit the task raises ConfigError."""
    from ..core.errors import ConfigError

    if not plot:
        return []
    allowed = PLOTS.get(task, PLOTS["classification"])
    names = [p.strip().lower() for p in (plot.split(",") if isinstance(plot, str) else plot) if p.strip()]
    for p in names:
        if p not in allowed:
            other = "regression" if task == "classification" else "classification"
            hint = f" ({p!r} is for {other} runs)" if p in PLOTS[other] else ""
            raise ConfigError(
                f"unknown plot {p!r} for a {task} run{hint}: use {', '.join(allowed)}, e.g. --plot {','.join(allowed)}."
            )
    return names


def metric_table(metrics: dict, title: str = "") -> Table:
    return Table(["metric", "value"], [[k, v] for k, v in metrics.items()], title=title)


def evaluate(run, on: str = "test", metrics=None, plot=None, data=None, data_name: str = "") -> EvalResult:
    """Metrics of ``run`` on a split as an :class:`EvalResult` (a dict), with optional plots;
    ``data=(X, y)`` scores labelled data instead (``data_name`` names it in the title).

    Classification plots: "confusion", "roc".  Regression: "pred" (predicted vs true).
    """
    plots = parse_plots(plot, run.task)
    if data is not None:
        values = run.evaluate(metrics=metrics, data=data)
        on = data_name or "data"
        title = f"{run.name} on {on}"
    else:
        values = run.evaluate(on=on, metrics=metrics)
        title = f"{run.name} on the {on} split"
    table = metric_table(values, title=title)
    figures, p, classes = [], None, None
    if _named(run):  # class names from a ClassLabel, id2label or classes=: a row for each
        p = run.predictions(on=on) if data is None else run.predictions(data=data)
        classes = class_table(p, title=f"{run.name} on {on}: each class")
    if plots:
        if p is None:
            p = run.predictions(on=on) if data is None else run.predictions(data=data)
        kind = (getattr(run, "config", None) or {}).get("target_kind")
        if run.task == "classification" and kind == "multihot":  # several labels a row: a figure per label
            figures += _multilabel_figures(run.name, p, plots, on)
        elif run.task == "classification":
            where = " over labelled positions" if kind == "positions" else ""  # -100 left out
            count = f",\n{len(p['y_true_index'])} labelled positions" if where else ""
            if "confusion" in plots:
                title = f"{run.name}: confusion matrix ({on}){count}"
                fig = confusion_figure(p["y_true_index"], p["y_pred_index"], p["classes"], title=title)
                figures.append(FigureDisplay(fig, f"confusion matrix of {run.name} on {on}{where}"))
            if "roc" in plots:
                fig = roc_figure(p["y_true_index"], p["scores"], p["classes"], title=f"{run.name}: ROC ({on}){count}")
                figures.append(FigureDisplay(fig, f"ROC curve of {run.name} on {on}{where}"))
        elif "pred" in plots:
            fig = pred_vs_true_figure(p["y_true"], p["y_pred"], title=f"{run.name}: predicted vs true ({on})")
            figures.append(FigureDisplay(fig, f"predicted vs true of {run.name} on {on}"))
    return EvalResult(values, table, figures, classes=classes)


def _named(run) -> bool:
    """A run of this session (with its model) whose labels are named classes (not a language model)."""
    c = run.config or {}
    label = run.task == "classification" and (c.get("target_kind") or "label") in ("label", "multihot")
    return label and getattr(run, "model", None) is not None and bool(c.get("named_classes"))


def class_table(p: dict, title: str) -> Table:
    """Precision, recall, f1 and support of each class, by its name (scikit-learn's per-class scores;
    a multi-hot run's 0/1 matrices score each column)."""
    from ..core.metrics import per_class

    names = [str(c) for c in p["classes"]]
    s = per_class(p.get("y_true_index", p["y_true"]), p.get("y_pred_index", p["y_pred"]), len(names))
    rows = [[n, s["precision"][k], s["recall"][k], s["f1"][k], int(s["support"][k])] for k, n in enumerate(names)]
    return Table(["class", "precision", "recall", "f1", "support"], rows, title=title)


def _multilabel_figures(name: str, p: dict, plots: list, on: str) -> list:
    from .label_figures import multilabel_confusion_figure, multilabel_roc_figure

    out = []
    if "confusion" in plots:
        fig = multilabel_confusion_figure(
            p["y_true"], p["y_pred"], p["classes"], title=f"{name}: confusion per label ({on})"
        )
        out.append(FigureDisplay(fig, f"confusion matrix per label of {name} on {on}"))
    if "roc" in plots:
        fig = multilabel_roc_figure(p["y_true"], p["scores"], p["classes"], title=f"{name}: ROC ({on})")
        out.append(FigureDisplay(fig, f"ROC curves per label of {name} on {on}"))
    return out


RUN_COLUMNS = ("name", "when", "model", "params", "loss", "optimizer", "epochs", "status", "best", "test", "time")
_OPTIONAL = ("when", "test")  # shown only where some run has one: stored runs of earlier sessions, evaluated runs


def runs_table(runs) -> Table:
    """Runs, one row each (see ``Run.summary``); the params column where some run trained only part of
    its parameters (freeze=, LoRA): "1.2 M / 4.4 M trainable"."""
    summaries = [run.summary() for run in runs]
    columns = [c for c in RUN_COLUMNS if c not in _OPTIONAL or any(s.get(c) for s in summaries)]
    if not any("trainable" in (s.get("params") or "") for s in summaries):
        columns.remove("params")
    rows = []
    for s in summaries:
        s["time"] = duration(s.get("time", 0.0))
        rows.append([s.get(c, "") for c in columns])
    return Table(columns, rows, title="runs" if rows else "runs: none yet")


_CONFIG_KEYS = (
    "model",
    "loss",
    "optimizer",
    "lr",
    "epochs",
    "batch_size",
    "preprocess",
    "val",
    "test",
    "seed",
    "device",
    "amp",
    "metrics",
    "patience",
    "scheduler",
)


def _setting(run, key: str):
    """A config value as ``%compare`` shows it: a split declared as data reads "given", not its fraction 0."""
    if key in ("val", "test") and key in (run.config.get("given_splits") or ()):
        return "given"
    return run.config.get(key)


class CompareResult:
    """``%compare``'s result: the side-by-side table and the overlaid loss curves."""

    def __init__(self, table: Table, figure: FigureDisplay):
        self.table, self.figure = table, figure

    def _ipython_display_(self):
        _show(self.figure, self.table)

    def __repr__(self) -> str:
        return self.table.text()


def compare(runs) -> CompareResult:
    """Configs and final metrics of ``runs`` side by side (differing settings marked), loss curves overlaid."""
    runs = list(runs)
    rows, highlight = [], []
    for key in _CONFIG_KEYS:
        vals = [_setting(r, key) for r in runs]
        if all(v is None for v in vals):
            continue
        shown = [format_value(v) for v in vals]
        if len(set(shown)) > 1:
            highlight.append(len(rows))
        rows.append([key] + vals)
    rows.append(["status"] + [r.status for r in runs])
    rows.append(["epochs_done"] + [str(len(r.history)) for r in runs])
    finals = [r.history.last for r in runs]
    keys = [k for k in dict.fromkeys(k for f in finals for k in f) if k not in ("epoch", "time", "lr")]
    for k in keys:
        rows.append([f"final {k}"] + [f.get(k) for f in finals])
    table = Table(
        ["setting"] + [r.name for r in runs],
        rows,
        title="compare",
        highlight=highlight,
        note="* marks settings that differ" if highlight else "",
    )
    fig = loss_curves_figure(runs, title="loss: " + " vs ".join(r.name for r in runs))
    return CompareResult(table, FigureDisplay(fig, "loss curves of " + ", ".join(r.name for r in runs)))
