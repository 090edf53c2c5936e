"""The lessons' panels on training: 04 losses (move a point or a margin) and 05 optimizers
(the lesson's own update rules as paths on a 2-D bowl)."""

from __future__ import annotations

import math
import warnings

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .explorer import Explorer, Summary

# ---------------------------------------------------------------- 04 losses


def line_fits(x, y, delta=1.0):
    """Slope and intercept of a line fitted with MSE, MAE and Huber(δ) (scikit-learn's exact solvers)."""
    from sklearn.linear_model import HuberRegressor, LinearRegression, QuantileRegressor

    X = np.asarray(x, dtype=float).reshape(-1, 1)
    y = np.asarray(y, dtype=float)
    scale = max(float(np.median(np.abs(y - np.median(y)))), 1e-6)
    fits = {
        "MSE": LinearRegression(),
        "MAE": QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs"),
        # scikit-learn's Huber works on residuals divided by a fitted scale: epsilon = δ / scale at the start
        "Huber": HuberRegressor(epsilon=max(1.0 + 1e-6, delta / scale), alpha=0.0, max_iter=500),
    }
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in fits.items():
            model.fit(X, y)
            out[name] = (float(model.coef_[0]), float(model.intercept_))
    return out


def margin_losses(m):
    """The classification losses at margin m = y·f(x): logistic (cross-entropy/BCE), hinge and 0-1."""
    return {
        "cross-entropy (logistic)": math.log1p(math.exp(-m)) if m > -30 else -m,
        "hinge": max(0.0, 1.0 - m),
        "0-1": float(m < 0),
    }


def loss_explorer(n=30, seed=0):
    """Move one training target (an outlier) and a margin: the fitted lines and the losses respond."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 2, n))
    y = 3 * x + 1 + rng.normal(0, 0.3, n)
    i_out = int(np.argmax(x))  # the rightmost point is the one the slider moves

    def render(outlier, margin):
        yy = y.copy()
        yy[i_out] = outlier
        fits = line_fits(x, yy)
        fig = Figure(figsize=(10, 3.6))
        ax1, ax2 = fig.subplots(1, 2)
        ax1.scatter(x, yy, s=14, color="grey", label="training points")
        ax1.scatter([x[i_out]], [outlier], s=80, color="crimson", zorder=3, label="the point you move")
        grid = np.array([-2.2, 2.2])
        ax1.plot(grid, 3 * grid + 1, "k--", lw=1, label="true line 3x + 1")
        for name, (a, b) in fits.items():
            ax1.plot(grid, a * grid + b, label=f"{name}: slope {a:.2f}")
        ax1.set_xlabel("x")
        ax1.set_ylabel("target y")
        ax1.set_ylim(-10, 32)
        ax1.legend(fontsize=7, loc="upper left")
        ax1.set_title("one point moved: which fit follows it?")
        ms = np.linspace(-3, 3, 241)
        for name in ("cross-entropy (logistic)", "hinge", "0-1"):
            vals = [margin_losses(v)[name] for v in ms]
            (line,) = ax2.plot(ms, vals, ls=":" if name == "0-1" else "-", label=name)
            ax2.plot([margin], [margin_losses(margin)[name]], "o", color=line.get_color())
        ax2.axvline(margin, color="k", lw=0.8)
        ax2.set_xlabel("margin m = y·f(x)  (negative: wrong side)")
        ax2.set_ylabel("loss")
        ax2.set_ylim(0, 4)
        ax2.legend(fontsize=8)
        ax2.set_title(f"classification losses at m = {margin:+.1f}")
        fig.tight_layout()
        e = {name: outlier - (a * x[i_out] + b) for name, (a, b) in fits.items()}
        rows = [(f"{name} fit: slope, intercept", f"{a:.2f}, {b:.2f}") for name, (a, b) in fits.items()]
        rows.append(("moved point: its error under the MSE fit", f"{e['MSE']:.2f}"))
        rows += [(f"loss at m = {margin:+.1f}: {k}", f"{v:.3f}") for k, v in margin_losses(margin).items()]
        return fig, Summary(rows, title=f"moved target y = {outlier:.1f}, margin m = {margin:+.1f}")

    controls = {
        "outlier": widgets.FloatSlider(
            value=float(np.round(y[i_out], 1)),
            min=-10,
            max=30,
            step=0.5,
            description="moved y",
            continuous_update=False,
        ),
        "margin": widgets.FloatSlider(
            value=0.5, min=-3, max=3, step=0.1, description="margin m", continuous_update=False
        ),
    }
    return Explorer(controls, render, title="Losses: move a point, move a margin")


# ---------------------------------------------------------------- 05 optimizers


def bowl(theta, curvature=(1.0, 10.0)):
    """An elongated quadratic bowl 0.5·(a·θ₁² + b·θ₂²): steep across, shallow along."""
    a, b = curvature
    return 0.5 * (a * theta[..., 0] ** 2 + b * theta[..., 1] ** 2)


def trajectory(step, lr, steps=60, noise=0.0, start=(-4.0, 2.0), seed=0, curvature=(1.0, 10.0), **kw):
    """Run one of the lesson's update rules (``step(params, grads, state, lr, **kw)``, the functions
    checked against ``torch.optim``) on the bowl; ``noise`` adds Gaussian gradient noise (a
    mini-batch's error).  Returns the (steps + 1, 2) array of positions."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    theta = torch.tensor(start, dtype=torch.float64)
    state, path = {}, [theta.clone()]
    a, b = curvature
    scale = torch.tensor([a, b], dtype=torch.float64)
    for _ in range(steps):
        g = scale * theta  # the bowl's exact gradient
        if noise:
            g = g + noise * torch.randn(2, generator=gen, dtype=torch.float64)
        step([theta], [g], state, lr, **kw)
        if not torch.isfinite(theta).all() or theta.abs().max() > 1e6:
            break
        path.append(theta.clone())
    return np.stack([p.numpy() for p in path])


def optimizer_explorer(rules: dict, steps=100, start=(-4.0, 2.0)):
    """``rules``: name -> (step function, which sliders it reads: subset of {"beta1", "beta2", "noise"}).

    The learning rate is shared on purpose: one α means different things to different rules."""
    t = np.linspace(-5, 5, 201)
    gx, gy = np.meshgrid(t, np.linspace(-3, 3, 121))
    surface = bowl(np.stack([gx, gy], axis=-1))

    def render(log10_lr, beta1, beta2, noise):
        lr = 10**log10_lr
        fig = Figure(figsize=(8, 4.2))
        ax = fig.subplots()
        ax.contour(gx, gy, surface, levels=np.geomspace(0.05, 50, 10), colors="lightgrey", linewidths=0.8)
        rows = []
        for name, (step, reads) in rules.items():
            kw = {}
            if "beta1" in reads:
                kw["beta1"] = beta1
            if "beta2" in reads:
                kw["beta2"] = beta2
            if "rho" in reads:
                kw["rho"] = beta2
            path = trajectory(step, lr, steps, noise if "noise" in reads else 0.0, start, **kw)
            ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=name)
            final = float(bowl(path[-1]))
            diverged = len(path) < steps + 1 or final > float(bowl(np.array(start)))
            below = np.nonzero(bowl(path) < 0.01)[0]
            rows.append(
                (
                    f"{name}: loss after {steps} steps",
                    "diverged" if diverged and len(path) < steps + 1 else f"{final:.2e}",
                )
            )
            rows.append((f"{name}: first step with loss < 0.01", str(int(below[0])) if len(below) else "not reached"))
        ax.plot(*start, "ks", label="start")
        ax.plot(0, 0, "k*", ms=10, label="minimum")
        ax.set_xlim(-5, 5)
        ax.set_ylim(-3, 3)
        ax.set_xlabel("θ₁ (shallow direction, curvature 1)")
        ax.set_ylabel("θ₂ (steep, curvature 10)")
        ax.set_title(f"{steps} steps at α = {lr:.3g}, β₁ = {beta1}, β₂/ρ = {beta2}, gradient noise {noise}")
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        return fig, Summary(rows, title=f"α = {lr:.3g}")

    controls = {
        "log10_lr": widgets.FloatSlider(
            value=-1.0, min=-3, max=0, step=0.1, description="log₁₀ α", continuous_update=False
        ),
        "beta1": widgets.SelectionSlider(options=[0.0, 0.5, 0.8, 0.9, 0.95, 0.99], value=0.9, description="β₁"),
        "beta2": widgets.SelectionSlider(options=[0.9, 0.99, 0.999], value=0.99, description="β₂ / ρ"),
        "noise": widgets.SelectionSlider(options=[0.0, 0.5, 1.0, 2.0, 5.0], value=0.5, description="noise"),
    }
    return Explorer(controls, render, title="Optimizers on a 2-D loss surface")
