"""The tuning figures: the learning-rate finder's curve, a sweep's optimisation history and its
parameter importances.  Bare matplotlib ``Figure`` objects on an Agg canvas (no pyplot: nothing is
shown twice or leaked), shown as PNG (nbval never compares PNG; SVG would carry a date).

>>> fig = lr_figure(finding)            # doctest: +SKIP
>>> png = to_png(fig)                   # doctest: +SKIP
"""

from __future__ import annotations

import io
import math


def new_figure(w: float = 5.6, h: float = 3.4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=90)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def lr_figure(finding, title: str | None = None, caption: str | None = None):
    """Loss against learning rate (log axis): the raw losses faint, the smoothed curve, the suggestion
    marked; ``caption``: a line of text under the plot (the way to use the suggestion)."""
    fig, ax = new_figure()
    lrs, raw, smooth = finding.lrs, finding.losses, finding.smoothed
    ax.plot(lrs, raw, color="tab:blue", alpha=0.25, linewidth=1, label="loss (per step)")
    ax.plot(lrs, smooth, color="tab:blue", linewidth=2, label="smoothed")
    ax.set_xscale("log")
    if smooth:
        lo = min(range(len(smooth)), key=smooth.__getitem__)
        top = max(smooth[: lo + 1]) * 1.15
        bottom = min(min(raw), min(smooth)) * 0.9
        ax.set_ylim(bottom if bottom < top else None, top)
    if finding.suggestion is not None and finding.index is not None:
        s = finding.suggestion
        ax.axvline(s, color="tab:red", linestyle="--", linewidth=1)
        ax.plot([s], [smooth[finding.index]], "o", color="tab:red", markersize=8, label=f"suggestion {s:.3g}")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    ax.set_title(title or "learning-rate finder", fontsize="medium")
    if caption:
        text = caption.replace("$", r"\$")  # a literal $, never matplotlib's mathtext
        fig.text(0.0, -0.07, text, ha="left", va="top", fontsize="small", family="monospace")  # in the tight bbox
    return fig


def history_figure(rows, metric: str, direction: str, title: str | None = None):
    """Each trial's value (completed: dots; pruned: crosses, at their best reported value) and the best so far."""
    fig, ax = new_figure()
    done = [(r.number, r.value) for r in rows if r.status == "completed" and r.value is not None]
    pruned = [(r.number, r.value) for r in rows if r.status == "pruned" and r.value is not None]
    if done:
        ax.plot(*zip(*done), "o", color="tab:blue", label="completed")
        best, xs, ys = None, [], []
        for n, v in done:
            if best is None or (v > best if direction == "maximize" else v < best):
                best = v
            xs.append(n)
            ys.append(best)
        ax.step(xs, ys, where="post", color="tab:red", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned), "x", color="tab:gray", label="pruned (best reported)")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.3)
    if done or pruned:
        ax.legend(loc="best", fontsize="small", frameon=False)
    ax.set_title(title or f"optimisation history ({direction} {metric})", fontsize="medium")
    return fig


def importance_figure(importances: dict, title: str | None = None):
    """Horizontal bars, most important on top."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig, ax = new_figure(5.6, max(1.8, 0.5 + 0.45 * len(items)))
    names = [k for k, _ in items]
    values = [v if math.isfinite(v) else 0.0 for _, v in items]
    ax.barh(range(len(items)), values, color="tab:green")
    ax.set_yticks(range(len(items)), names)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize="small")
    ax.set_xlim(0, max(values + [0.0]) * 1.2 or 1.0)
    ax.set_xlabel("importance (Optuna)")
    ax.set_title(title or "parameter importances", fontsize="medium")
    return fig
