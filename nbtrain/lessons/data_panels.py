"""The lessons' panels on data and models: 02 preprocessing (scaler, imputation, leakage) and
03 model choice (decision boundaries). A pure function computes, a builder wires it to controls."""

from __future__ import annotations

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
