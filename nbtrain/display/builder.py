"""The training builder: pick data, preprocessing, model, loss, optimizer and settings, click Train.

``nbtrain.panel()`` returns the builder widget.  Train runs ``nbtrain.train(...)`` with the live
views shown below the controls; the "copy as %%train cell" text is the ``%%train`` cell that
reproduces the same run (same data, settings and seed).

>>> nbtrain.panel(dataset="wine", model="mlp(64, 64)", epochs=30)     # doctest: +SKIP
"""

from __future__ import annotations

import html
import json

import ipywidgets as W

from .live_area import LiveArea

BUNDLED = {  # name -> scikit-learn loader; every one returns (X, y) with return_X_y=True
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "digits": "load_digits",
    "diabetes": "load_diabetes",
}
VARIABLE = "(a variable)"
PREPROCESS = ["standardize", "normalize", "impute:median | standardize", "none"]
MODELS = ["logistic", "linear", "svm", "mlp(32)", "mlp(64, 64)", "mlp(64, 64, dropout=0.1)"]
LOSSES = ["auto", "cross_entropy", "mse", "mae", "huber", "bce", "hinge"]
OPTIMIZERS = ["adam", "adamw", "sgd", "sgd(momentum=0.9)", "rmsprop", "adagrad", "gd"]
RED = "#c62828"


def _user_ns() -> dict:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:
        shell = None
    return shell.user_ns if shell is not None else {}


def _q(s: str) -> str:
    return json.dumps(s)  # a double-quoted Python string literal


class BuilderPanel(W.VBox):
    """The builder widget (a VBox).  ``.cell()`` is the %%train text, ``.train()`` clicks Train."""

    def __init__(
        self,
        *,
        dataset: str = "iris",
        variable: str = "",
        target: str = "",
        preprocess: str = "standardize",
        model: str = "mlp(32)",
        loss: str = "auto",
        optimizer: str = "adam",
        lr: float = 0.01,
        epochs: int = 20,
        batch_size: int = 32,
        name: str = "",
        display: str = "notebook",
        namespace: dict | None = None,
        train=None,
    ):
        from ..core.errors import ConfigError

        if not callable(train):
            raise ConfigError("the builder needs the training function: use nbtrain.panel() or %train_panel.")

        if dataset not in BUNDLED and dataset != VARIABLE:
            if variable:
                raise ConfigError(
                    f"dataset must be one of {', '.join(BUNDLED)} (or pass variable=NAME), got {dataset!r}."
                )
            dataset, variable = VARIABLE, dataset  # panel(dataset="my_df") names a variable
        self.namespace = namespace
        self._train = train  # nbtrain.train, handed in (display code never imports the API)
        self.display_mode = display
        self.run = None

        def wide():  # one Layout per control: a shared one would hide them all together
            return W.Layout(width="28em")

        style = {"description_width": "8em"}
        self.dataset = W.Dropdown(options=[*BUNDLED, VARIABLE], value=dataset, description="dataset", style=style)
        self.variable = W.Text(
            value=variable,
            description="variable",
            placeholder="name of (X, y) or a DataFrame",
            style=style,
            layout=wide(),
        )
        self.target = W.Text(
            value=target, description="target column", placeholder="for a DataFrame", style=style, layout=wide()
        )
        self.preprocess = W.Combobox(
            value=preprocess,
            options=PREPROCESS,
            description="preprocess",
            ensure_option=False,
            style=style,
            layout=wide(),
        )
        self.model = W.Combobox(
            value=model, options=MODELS, description="model", ensure_option=False, style=style, layout=wide()
        )
        self.loss = W.Dropdown(
            options=LOSSES if loss in LOSSES else [*LOSSES, loss], value=loss, description="loss", style=style
        )
        self.optimizer = W.Combobox(
            value=optimizer,
            options=OPTIMIZERS,
            description="optimizer",
            ensure_option=False,
            style=style,
            layout=wide(),
        )
        self.lr = W.BoundedFloatText(
            value=lr, min=1e-7, max=100.0, step=0.001, description="learning rate", style=style
        )
        self.epochs = W.BoundedIntText(value=epochs, min=1, max=1_000_000, description="epochs", style=style)
        self.batch_size = W.BoundedIntText(
            value=batch_size, min=1, max=10_000_000, description="batch size", style=style
        )
        self.name = W.Text(
            value=name, description="run name", placeholder="automatic: run1, run2, ...", style=style, layout=wide()
        )
        self.train_button = W.Button(description="Train", icon="play", button_style="primary")
        self.message = W.HTML(value="")
        self.cell_text = W.HTML(value="")
        # the run's views live in widgets (panel, live chart, final plot and table): a click handler's
        # display messages would never update in place, widget state does (see live_area.py)
        self.area = LiveArea()
        self.train_button.on_click(lambda _b: self.train())
        self.train_button.add_class("nbtrain-train")
        self.cell_text.add_class("nbtrain-cell")
        controls = [
            self.dataset,
            self.variable,
            self.target,
            self.preprocess,
            self.model,
            self.loss,
            self.optimizer,
            self.lr,
            self.epochs,
            self.batch_size,
            self.name,
        ]
        for c in controls:
            c.observe(self._changed, names="value")
        copy = W.VBox([W.HTML("<b>copy as %%train cell</b>"), self.cell_text])
        super().__init__(
            [
                W.HTML("<b>nbtrain builder</b>"),
                W.HBox([W.VBox(controls[:6]), W.VBox(controls[6:])]),
                W.HBox([self.train_button, self.message]),
                copy,
                self.area.box,
            ]
        )
        self.add_class("nbtrain-builder")
        self._changed()

    def __repr__(self) -> str:  # the plain-text twin saved in notebooks: short and stable
        return "nbtrain builder"

    # ------------------------------------------------------------------ what the controls say
    def _ns(self) -> dict:
        return self.namespace if self.namespace is not None else _user_ns()

    def _changed(self, change=None) -> None:
        is_var = self.dataset.value == VARIABLE
        self.variable.layout.display = None if is_var else "none"
        self.target.layout.display = None if is_var else "none"
        self.cell_text.value = f"<pre>{html.escape(self.cell())}</pre>"

    def settings(self) -> dict:
        """The controls' values, cleaned: what a run (and the cell) is made from."""
        pre = self.preprocess.value.strip()
        return {
            "dataset": self.dataset.value,
            "variable": self.variable.value.strip(),
            "target": self.target.value.strip() or None,
            "preprocess": None if pre in ("", "none") else pre,
            "model": self.model.value.strip() or None,
            "loss": None if self.loss.value == "auto" else self.loss.value,
            "optimizer": self.optimizer.value.strip() or None,
            "lr": float(self.lr.value),
            "epochs": int(self.epochs.value),
            "batch_size": int(self.batch_size.value),
            "name": self.name.value.strip() or None,
        }

    def cell(self) -> str:
        """The %%train cell that reproduces the run the Train button starts."""
        s = self.settings()
        opts = [f"--epochs {s['epochs']}", f"--batch-size {s['batch_size']}", f"--lr {s['lr']!r}", "--seed 0"]
        if s["name"]:
            opts.append(f"--name {s['name']}")
        body = []
        if s["dataset"] == VARIABLE:
            opts.append(f"--data {s['variable'] or 'NAME'}")
            if s["target"]:
                opts.append(f"--target {s['target']}")
        else:
            loader = BUNDLED[s["dataset"]]
            body += [f"from sklearn.datasets import {loader}", f"data = {loader}(return_X_y=True)"]
        for key in ("preprocess", "model", "loss", "optimizer"):
            if s[key] is not None:
                body.append(f"{key} = {_q(s[key])}")
        return "%%train " + " ".join(opts) + "\n" + "\n".join(body) + "\n"

    def data(self):
        """The data the settings name: a bundled dataset, or a variable of the notebook."""
        from ..core.errors import ConfigError

        s = self.settings()
        if s["dataset"] != VARIABLE:
            import sklearn.datasets

            return getattr(sklearn.datasets, BUNDLED[s["dataset"]])(return_X_y=True)
        name, ns = s["variable"], self._ns()
        if not name:
            raise ConfigError("dataset is '(a variable)' but no variable name is given: type the name of your data.")
        if name not in ns:
            raise ConfigError(
                f"there is no variable named {name!r} in the notebook: run the cell that defines it first."
            )
        return ns[name]

    def train_kwargs(self) -> dict:
        s = self.settings()
        kw = dict(
            model=s["model"],
            loss=s["loss"],
            optimizer=s["optimizer"],
            preprocess=s["preprocess"],
            epochs=s["epochs"],
            batch_size=s["batch_size"],
            lr=s["lr"],
            seed=0,
            name=s["name"],
        )
        if s["target"] and s["dataset"] == VARIABLE:
            kw["target"] = s["target"]
        return kw

    # ------------------------------------------------------------------ the Train button
    def train(self):
        """Train with the current settings; the live views appear below.  Returns the Run (or None)."""
        from ..core.errors import NbtrainError

        self.area.box.children = ()
        self.message.value = ""
        self.train_button.disabled = True
        views = [] if self.display_mode in (None, False, "none") else [self.area]
        try:
            try:
                self.run = self._train(self.data(), display="none", callbacks=views, **self.train_kwargs())
            except NbtrainError as exc:  # a user mistake: one sentence, no traceback
                self.message.value = (
                    f'<span style="color:{RED}">{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</span>'
                )
                return None
            self.message.value = (
                f"{html.escape(self.run.name)}: {html.escape(self.run.status)} "
                f"&middot; <code>nbtrain.runs[{html.escape(_q(self.run.name))}]</code>"
            )
            return self.run
        finally:
            self.train_button.disabled = False


def panel(*, train, **kwargs) -> BuilderPanel:
    """The builder widget for ``train`` (``nbtrain.train``); keyword arguments preset its controls
    (dataset, model, epochs, ...)."""
    return BuilderPanel(train=train, **kwargs)
