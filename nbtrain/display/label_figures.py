"""``%evaluate --plot`` for multi-label runs (several classes a row): one 2x2 confusion matrix per label
(scikit-learn's ``multilabel_confusion_matrix``) in a grid, and one ROC curve per label plus the
micro-average.  Per-position runs (token tags, masks) use the one-label figures of
:mod:`.evaluation` over their labelled positions (-100 left out), titled so.

Figures are bare ``matplotlib.figure.Figure`` objects (no pyplot), as in :mod:`.evaluation`.

>>> fig = multilabel_confusion_figure(y_true, y_pred, ["news", "sport"])   # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np

#: labels drawn as confusion panels at most (the figure says which ones when there are more)
MAX_PANELS = 16
#: per-label ROC curves named in the legend at most; beyond, they are thin grey lines, one legend entry
MAX_NAMED_CURVES = 10


def _shown(n: int, limit: int) -> tuple:
    """``(labels drawn, a note for the title)``: the first ``limit`` of ``n`` labels, said aloud."""
    if n <= limit:
        return n, ""
    return limit, f" (labels 1-{limit} of {n})"


def _name(c) -> str:
    """A label's panel title: its name, or "label 3" for a bare number (beside 0/1 ticks a bare 3 is unclear)."""
    return f"label {c}" if isinstance(c, (int, np.integer)) else str(c)


def multilabel_confusion_figure(y_true, y_pred, classes, title="confusion matrix per label"):
    """A grid of 2x2 matrices, one per label: rows the true value (0, 1), columns the predicted one,
    cells the counts of rows (``multilabel_confusion_matrix``: [[TN, FP], [FN, TP]])."""
    from matplotlib.figure import Figure
    from sklearn.metrics import multilabel_confusion_matrix

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    mcm = multilabel_confusion_matrix(y_true, y_pred)
    n, note = _shown(len(mcm), MAX_PANELS)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(2.3 * cols + 0.4, 2.3 * rows + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_axis_off()
            continue
        cm = mcm[k]
        ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(1, int(cm.max())))
        ax.set_xticks([0, 1], ["0", "1"])
        ax.set_yticks([0, 1], ["0", "1"])
        ax.set_title(_name(classes[k]), fontsize="medium")
        if k % cols == 0:
            ax.set_ylabel("true")
        if k // cols == rows - 1 or k + cols >= n:
            ax.set_xlabel("predicted")
        top = cm.max()
        for i in range(2):
            for j in range(2):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > top / 2 else "black")
    fig.suptitle(f"{title}{note}, {len(y_true)} rows", fontsize="medium")
    fig.tight_layout()
    return fig


def multilabel_roc_figure(y_true, scores, classes, title="ROC per label"):
    """One ROC curve per label (a label whose column holds one value only has none, and the legend says
    so), the micro-average over every (row, label) pair, and the macro AUC (the ``auc`` metric) in the
    title when every label has one."""
    from matplotlib.figure import Figure
    from sklearn.metrics import auc, roc_auc_score, roc_curve

    y_true, scores = np.asarray(y_true), np.asarray(scores)
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    k_all = y_true.shape[1]
    named = k_all <= MAX_NAMED_CURVES
    missing, drawn = [], 0
    for k in range(k_all):
        col = y_true[:, k]
        if col.min() == col.max():
            missing.append(str(classes[k]))
            continue
        fpr, tpr, _ = roc_curve(col, scores[:, k])
        if named:
            ax.plot(fpr, tpr, linewidth=1.2, label=f"{classes[k]} (AUC {auc(fpr, tpr):.3f})")
        else:
            ax.plot(fpr, tpr, color="grey", alpha=0.35, linewidth=0.8, label="each label" if not drawn else None)
        drawn += 1
    if y_true.min() != y_true.max():
        fpr, tpr, _ = roc_curve(y_true.ravel(), scores.ravel())
        ax.plot(fpr, tpr, color="black", linewidth=2.0, label=f"micro-average (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    if not missing:
        title += f", macro AUC {roc_auc_score(y_true, scores, average='macro'):.3f}"
    ax.set_title(title, fontsize="medium")
    if ax.get_legend_handles_labels()[0]:
        legend_title = f"no curve (one value only): {', '.join(missing[:5])}" if missing else None
        ax.legend(loc="lower right", fontsize="small", title=legend_title, title_fontsize="x-small")
    return fig
