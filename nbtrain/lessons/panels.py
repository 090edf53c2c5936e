"""The lessons' panels: a pure function computes, a builder wires it to controls (an Explorer).

Each redraw stays well under a second on a 2-core CPU: the models are small scikit-learn ones or a
few dozen torch steps, and anything slower is computed once and cached."""

from __future__ import annotations

import math
import time
import warnings

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .explorer import Explorer, Summary

# ---------------------------------------------------------------- 02 preprocessing


SCALERS = ("none", "normalize (min-max)", "standardize")
IMPUTERS = ("mean", "median", "most_frequent")
FIT_ON = ("training rows", "all rows")


def _scaler(name):
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

    return {"none": FunctionTransformer(), "normalize (min-max)": MinMaxScaler(), "standardize": StandardScaler()}[name]


def preprocess_and_score(
    X_train, y_train, X_val, y_val, scaler="standardize", imputer="median", fit_on="training rows"
):
    """Impute, scale, then a fixed-step SGD logistic regression (the lesson's plain gradient descent).

    ``fit_on="all rows"`` fits the imputer and scaler on training and validation rows together
    (the leak).  Returns ``(transformed training rows, validation accuracy, rows the steps saw)``."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline

    prep = make_pipeline(SimpleImputer(strategy=imputer), _scaler(scaler))
    fit_rows = X_train if fit_on == "training rows" else np.concatenate([X_train, X_val])
    prep.fit(fit_rows)
    clf = SGDClassifier(
        loss="log_loss", learning_rate="constant", eta0=0.01, max_iter=20, tol=None, random_state=0, alpha=1e-4
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached on purpose: a fixed training budget
        clf.fit(prep.transform(X_train), y_train)
    acc = float((clf.predict(prep.transform(X_val)) == y_val).mean())
    return prep.transform(X_train), acc, len(fit_rows)


def preprocessing_explorer(frame, target, features=None, seed=0):
    """Scaler, imputation and "fit on" controls; box plots of some features and the validation score."""
    from sklearn.model_selection import train_test_split

    features = list(features or [c for c in frame.columns if c != target][:6])
    X = frame[features].to_numpy(dtype=float)
    y = frame[target].to_numpy()
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)

    def render(scaler, imputer, fit_on):
        Xt, acc, n_fit = preprocess_and_score(X_tr, y_tr, X_va, y_va, scaler, imputer, fit_on)
        fig = Figure(figsize=(7.5, 3.2))
        ax = fig.subplots()
        try:
            ax.boxplot(Xt, orientation="horizontal", showfliers=False)
        except TypeError:  # matplotlib < 3.10
            ax.boxplot(Xt, vert=False, showfliers=False)
        ax.set_yticks(range(1, len(features) + 1), features)
        unit = {
            "none": "raw units",
            "normalize (min-max)": "fraction of the training range",
            "standardize": "standard deviations",
        }
        ax.set_xlabel(f"value after preprocessing ({unit[scaler]})")
        ax.set_title(f"training rows after impute:{imputer} → {scaler}")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        rows = [
            ("validation accuracy (SGD, 20 epochs)", f"{acc:.3f}"),
            (
                "rows the imputer and scaler were fitted on",
                f"{n_fit} ({len(X_tr)} training" + (f" + {len(X_va)} validation)" if n_fit > len(X_tr) else ")"),
            ),
        ]
        return fig, Summary(rows, title=f"impute:{imputer} | {scaler} | fitted on {fit_on}")

    controls = {
        "scaler": widgets.Dropdown(options=SCALERS, value="standardize", description="scaler"),
        "imputer": widgets.Dropdown(options=IMPUTERS, value="median", description="imputation"),
        "fit_on": widgets.ToggleButtons(options=FIT_ON, value="training rows", description="fit on"),
    }
    return Explorer(controls, render, title="Preprocessing: scaler and imputation")


def select_and_score(X, y, k=20, fit_on="training rows", seed=0):
    """SelectKBest(k) fitted on the training rows or on all rows, then logistic regression: test accuracy."""
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    sel = SelectKBest(f_classif, k=k).fit(*((X_tr, y_tr) if fit_on == "training rows" else (X, y)))
    clf = LogisticRegression(max_iter=500).fit(sel.transform(X_tr), y_tr)
    return float(clf.score(sel.transform(X_te), y_te))


def leakage_explorer(X, y, seed=0):
    """How many noise features to keep, and where the selector is fitted: the test accuracy on pure noise."""
    cache = {}

    def score(k, fit_on):
        if (k, fit_on) not in cache:
            cache[k, fit_on] = select_and_score(X, y, k, fit_on, seed)
        return cache[k, fit_on]

    def render(k, fit_on):
        ks = [5, 10, 20, 50, 100]
        fig = Figure(figsize=(6, 3.2))
        ax = fig.subplots()
        for name, style in (("training rows", "o-"), ("all rows", "s--")):
            ax.plot(ks, [score(kk, name) for kk in ks], style, label=f"selector fitted on {name}")
        ax.plot([k], [score(k, fit_on)], "o", ms=14, mfc="none", mec="k", label="your choice")
        ax.axhline(0.5, color="grey", lw=1, ls=":", label="chance")
        ax.set_xscale("log")
        ax.set_xticks(ks, [str(v) for v in ks])
        ax.set_xlabel("features kept (of 2,000 noise features)")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0.2, 1.0)
        ax.legend(fontsize=8, loc="lower center", ncol=2)
        fig.tight_layout()
        return fig, Summary(
            [("test accuracy on pure noise", f"{score(k, fit_on):.3f}"), ("chance", "0.500")],
            title=f"keep {k} features, selector fitted on {fit_on}",
        )

    controls = {
        "k": widgets.SelectionSlider(options=[5, 10, 20, 50, 100], value=20, description="keep k"),
        "fit_on": widgets.ToggleButtons(options=FIT_ON, value="training rows", description="fit on"),
    }
    return Explorer(controls, render, title="Leakage: where is the feature selector fitted?")


# ---------------------------------------------------------------- 03 model choice

MODELS = ("linear (least squares)", "logistic", "SVM (RBF kernel)", "MLP")


def make_model(kind, width=16, seed=0):
    from sklearn.linear_model import LogisticRegression, RidgeClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    if kind == "linear (least squares)":
        return RidgeClassifier(alpha=1e-3)
    if kind == "logistic":
        return LogisticRegression()
    if kind == "SVM (RBF kernel)":
        return SVC(C=1.0, gamma="scale")
    if kind == "MLP":
        return MLPClassifier(hidden_layer_sizes=(width,), solver="lbfgs", max_iter=100, random_state=seed)
    raise ValueError(f"unknown model {kind!r}: choose one of {MODELS}")


def fit_and_score(kind, width, X_tr, y_tr, X_va, y_va, seed=0):
    """Fit one model family; returns ``(model, validation accuracy, parameter count or None)``."""
    model = make_model(kind, width, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_tr, y_tr)
    n = None
    if hasattr(model, "coefs_"):
        n = sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_)
    elif hasattr(model, "coef_"):
        n = model.coef_.size + np.size(model.intercept_)
    return model, float(model.score(X_va, y_va)), n


def boundary_explorer(X, y, class_names=("class 0", "class 1"), feature_names=("x₁", "x₂"), seed=0):
    """Model family and MLP width on 2-D data: the decision regions and the validation accuracy."""
    from sklearn.model_selection import train_test_split

    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    grid = np.c_[gx.ravel(), gy.ravel()]
    cache = {}

    def render(model, width):
        key = (model, width if model == "MLP" else None)
        if key not in cache:
            m, acc, n = fit_and_score(model, width, X_tr, y_tr, X_va, y_va, seed)
            cache[key] = (m.predict(grid).reshape(gx.shape), acc, n, float(m.score(X_tr, y_tr)))
        regions, acc, n, train_acc = cache[key]
        fig = Figure(figsize=(5.5, 4.2))
        ax = fig.subplots()
        ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fdd0a2"], alpha=0.8)
        for c, (name, color) in enumerate(zip(class_names, ["#2171b5", "#d94801"])):
            ax.scatter(*X_tr[y_tr == c].T, s=12, color=color, label=f"{name} (training)")
            ax.scatter(*X_va[y_va == c].T, s=22, color=color, marker="x", label=f"{name} (validation)")
        ax.set_xlabel(feature_names[0])
        ax.set_ylabel(feature_names[1])
        label = f"MLP({width})" if model == "MLP" else model
        ax.set_title(f"{label}: validation accuracy {acc:.3f}")
        ax.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        rows = [("training accuracy", f"{train_acc:.3f}"), ("validation accuracy", f"{acc:.3f}")]
        rows.append(("parameters", "—" if n is None else str(n)))
        return fig, Summary(rows, title=label)

    controls = {
        "model": widgets.Dropdown(options=MODELS, value="logistic", description="model"),
        "width": widgets.SelectionSlider(options=[1, 2, 4, 8, 16, 32, 64], value=8, description="MLP width"),
    }
    return Explorer(controls, render, title="Model choice: decision boundary")


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


# ---------------------------------------------------------------- 06 evaluation


def threshold_metrics(y_true, score, threshold):
    """Accuracy, precision, recall, F1 and the confusion counts when ``score >= threshold`` flags positive."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    y_true = np.asarray(y_true)
    pred = (np.asarray(score) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, pred, labels=[0, 1]).ravel()
    return {
        "accuracy": float(accuracy_score(y_true, pred)),
        "precision": float(precision_score(y_true, pred, zero_division=0)),
        "recall": float(recall_score(y_true, pred, zero_division=0)),
        "f1": float(f1_score(y_true, pred, zero_division=0)),
        "fpr": float(fp / max(fp + tn, 1)),
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "tn": int(tn),
    }


def threshold_explorer(y_true, score, positive="positive", negative="negative"):
    """A decision-threshold slider moving along the ROC and precision–recall curves."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y_true, score)
    prec, rec, _ = precision_recall_curve(y_true, score)
    base = float(np.mean(y_true))

    def render(threshold):
        m = threshold_metrics(y_true, score, threshold)
        fig = Figure(figsize=(9, 3.6))
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot(fpr, tpr)
        ax1.plot([0, 1], [0, 1], ":", color="grey")
        ax1.plot([m["fpr"]], [m["recall"]], "o", color="crimson", ms=9)
        ax1.set_xlabel(f"false-positive rate ({negative} cases flagged)")
        ax1.set_ylabel(f"true-positive rate = recall ({positive})")
        ax1.set_title("ROC curve")
        ax2.plot(rec, prec)
        ax2.axhline(base, ls=":", color="grey", label=f"random ({base:.1%} {positive})")
        ax2.plot([m["recall"]], [m["precision"]], "o", color="crimson", ms=9, label=f"threshold {threshold:.2f}")
        ax2.set_xlabel(f"recall (share of {positive} cases found)")
        ax2.set_ylabel("precision (share of flags that are right)")
        ax2.set_ylim(0, 1.05)
        ax2.set_title("precision–recall curve")
        ax2.legend(fontsize=8)
        fig.tight_layout()
        rows = [(k, f"{m[k]:.3f}") for k in ("accuracy", "precision", "recall", "f1")]
        rows += [
            ("flagged", f"{m['tp'] + m['fp']} ({m['tp']} right, {m['fp']} false alarms)"),
            ("missed " + positive, str(m["fn"])),
        ]
        return fig, Summary(rows, title=f"threshold {threshold:.2f}")

    controls = {
        "threshold": widgets.FloatSlider(
            value=0.5, min=0.01, max=0.99, step=0.01, description="threshold", continuous_update=False
        ),
    }
    return Explorer(controls, render, title="Decision threshold")


# ---------------------------------------------------------------- 07 speed


def devices():
    """The devices this machine can train on, CPU first."""
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append("mps")
    return out


def measure_throughput(X, y, batch_size, device="cpu", seconds=0.3, hidden=(128, 128), seed=0, repeats=3):
    """Training samples per second of an MLP at one batch size, measured now: forward, backward and an
    Adam step on random batches for about ``seconds`` in all, after one warm-up step, timed in
    ``repeats`` slices; the fastest slice counts (as ``timeit`` does: other work on a busy machine only
    ever slows a slice down).  Returns ``(samples per second, seconds per step)``."""
    import torch

    torch.manual_seed(seed)
    layers, d = [], X.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(d, h), torch.nn.ReLU()]
        d = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(d, int(y.max()) + 1)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.int64, device=device)
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def one():
        idx = torch.randint(0, len(Xt), (batch_size,), generator=gen).to(device)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
        opt.step()

    one()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    best = math.inf
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            one()
            n += 1
            if n % 2 == 0:
                sync()
                if time.perf_counter() - t0 >= seconds / repeats:
                    break
        best = min(best, (time.perf_counter() - t0) / n)
    return batch_size / best, best


def throughput_explorer(X, y, batch_sizes=(16, 32, 64, 128, 256, 512, 1024), seconds=0.3):
    """Batch size and device: training throughput measured live; the chart starts with one quick pass
    over every batch size on the CPU, and each new measurement replaces its point."""
    measured = {("cpu", b): measure_throughput(X, y, b, "cpu", seconds / 3)[0] for b in batch_sizes}

    def render(batch_size, device):
        rate, per_step = measure_throughput(X, y, batch_size, device, seconds)
        measured[device, batch_size] = rate
        fig = Figure(figsize=(6.5, 3.4))
        ax = fig.subplots()
        for dev in dict.fromkeys(d for d, _ in measured):
            pts = sorted((b, r) for (d, b), r in measured.items() if d == dev)
            ax.plot([b for b, _ in pts], [r / 1000 for _, r in pts], "o-", label=dev)
        ax.plot([batch_size], [rate / 1000], "o", ms=14, mfc="none", mec="k", label="just measured")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(batch_sizes), [str(b) for b in batch_sizes])
        ax.set_xlabel("batch size (samples per step)")
        ax.set_ylabel("throughput (thousand samples/s)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
        ax.set_title("MLP(128, 128) training steps, measured now")
        fig.tight_layout()
        rows = [("throughput", f"{rate:.0f} samples/s"), ("one training step", f"{per_step * 1000:.2f} ms")]
        return fig, Summary(rows, title=f"batch size {batch_size} on {device}")

    controls = {
        "batch_size": widgets.SelectionSlider(options=list(batch_sizes), value=64, description="batch size"),
        "device": widgets.Dropdown(options=devices(), value="cpu", description="device"),
    }
    return Explorer(controls, render, title="Speed: batch size and device")
