"""The magics class: settings (traitlets) and thin magics over ``nbtrain.train`` and the display twins."""

from __future__ import annotations

import difflib
import re

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Enum, Int, TraitError, Unicode, observe, validate

from ..core.errors import NbtrainError
from ..core.run import runs
from .flags import first_word, split_line, train_flags
from .train import run_train

DISPLAYS = ("auto", "notebook", "console", "none")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _usage(exc: NbtrainError) -> UsageError:
    """A user mistake: one short message (IPython prints UsageError without a traceback)."""
    return UsageError(str(exc))


def parse(func, line: str, magic: str):
    """Parse a magic's options; unknown options get a 'did you mean' and a pointer to the help."""
    try:
        # split like a shell line (quotes group and are removed), not with IPython's parse_argstring,
        # which keeps the quotes inside the values on Linux and macOS (see flags.split_line)
        return func.parser.parse_args(split_line(line))
    except ValueError as exc:  # shlex: "No closing quotation" and the like
        raise UsageError(f"{magic}: cannot read the options {line.strip()!r}: {exc}; check the quotes.") from None
    except UsageError as exc:
        msg = str(exc)
        if "unrecognized arguments" in msg:
            known = [o for a in func.parser._actions for o in a.option_strings]
            for tok in msg.split(":", 1)[1].split():
                close = difflib.get_close_matches(tok.split("=")[0], known, n=1, cutoff=0.6)
                if tok.startswith("-") and close:
                    msg += f" (did you mean {close[0]}?)"
                    break
        raise UsageError(f"{magic}: {msg}. See {magic}? for every option and its default.") from None


@magics_class
class NbtrainMagics(Magics):
    """nbtrain's magics and their defaults.  ``%config NbtrainMagics`` lists the settings."""

    epochs = Int(10, min=1, help="Default number of epochs for %%train (--epochs overrides it).").tag(config=True)
    batch_size = Int(32, min=1, help="Default batch size for %%train (--batch-size overrides it).").tag(config=True)
    device = Unicode(
        "auto", help="Default device for %%train: auto, cpu, cuda, cuda:N or mps (--device overrides it)."
    ).tag(config=True)
    display = Enum(
        DISPLAYS,
        "auto",
        help="How %%train shows training: auto (widgets and live plot in a "
        "notebook, text in a terminal), notebook, console or none.",
    ).tag(config=True)
    seed = Int(0, min=0, help="Default random seed for %%train (--seed overrides it).").tag(config=True)
    store = Unicode(
        "",
        allow_none=True,
        help="Folder where finished runs are kept (the run store), listed by %runs in later kernels; None "
        "turns it off; '' (default): NBTRAIN_STORE, else .nbtrain/runs in the working directory.",
    ).tag(config=True)

    log = Unicode(
        None,
        allow_none=True,
        help="Where %%train also writes every run: tensorboard, mlflow, csv or a comma-separated list "
        "(--log overrides it); None (default): nowhere but nbtrain's own run store.",
    ).tag(config=True)

    @validate("device")
    def _check_device(self, proposal):
        value = str(proposal["value"]).strip().lower()
        if not _DEVICE.match(value):
            raise TraitError(f"NbtrainMagics.device must be auto, cpu, cuda, cuda:N or mps, got {proposal['value']!r}.")
        return value

    @observe("store")
    def _use_store(self, change):
        from ..api import configure

        configure(store=change["new"])

    # ------------------------------------------------------------------ %%train
    @magic_arguments("%train")  # the usage line then reads "%%train"
    @train_flags  # one flag per option of core/options.py that has one
    @argument(
        "--cv",
        type=int,
        default=None,
        metavar="K",
        help="k-fold cross-validation: K runs NAME/fold1..K, each scored on its held-out fold; returns "
        "their table (default: off)",
    )
    @cell_magic("train")
    def train(self, line, cell):
        """Train a model from the declarations of this cell and return the Run.

        The cell runs as ordinary Python; then only the names it assigned are read:
        data (required, or --data NAME), val_data, test_data, preprocess, model, loss, optimizer,
        scheduler, metrics, callbacks, and any option below (epochs = 50, lr = 0.01, ...; not name).
        An option set both on the magic line and in the cell: the line wins, and one line says so.
        The trained model is put back as `model`, the Run is registered in nbtrain.runs under --name
        and returned (so `_` holds it).
        """
        __tracebackhide__ = True
        args = parse(self.train, line, "%%train")
        return run_train(self, args, cell)

    # ------------------------------------------------------------------ %evaluate
    @magic_arguments()
    @argument(
        "name",
        nargs="?",
        default=None,
        help="run name, or a stored run's: name~1 is the one before (default: the latest run)",
    )
    @argument("--on", choices=["test", "val", "train"], default="test", help="which split (default: test)")
    @argument(
        "--data",
        metavar="EXPR",
        default=None,
        help="score labelled data instead of a split: a Python expression for (X, y), or a DataFrame "
        "holding the target column, e.g. --data (X_new,y_new) (default: none)",
    )
    @argument(
        "--metrics",
        default=None,
        help="comma-separated metrics (default: all that fit the task: accuracy,precision,recall,f1,auc or mse,mae,r2)",
    )
    @argument(
        "--plot",
        default=None,
        help="confusion, roc or confusion,roc for classification (multi-label: one 2x2 matrix and one curve "
        "per label; per position: over labelled positions); pred (predicted vs true) for regression "
        "(default: no plot)",
    )
    @line_magic("evaluate")
    def evaluate(self, line):
        """Evaluate a run on a split: a metric table (and plots); returns the metrics dict.  A stored run of
        an earlier session shows the metrics saved when it was evaluated in its session."""
        from ..display.evaluation import evaluate as evaluate_run

        args = parse(self.evaluate, line, "%evaluate")
        if args.data is None:
            run = self._run(args.name)
        else:
            run, data = self._loaded(args.name), self._value(args.data, "%evaluate --data")
        try:
            if args.data is not None:
                return evaluate_run(run, metrics=args.metrics, plot=args.plot, data=data, data_name=args.data)
            return evaluate_run(run, on=args.on, metrics=args.metrics, plot=args.plot)
        except NbtrainError as exc:
            raise _usage(exc) from None

    # ------------------------------------------------------------------ %predict
    @magic_arguments()
    @argument(
        "--proba",
        action="store_true",
        help="class probabilities instead of labels: a DataFrame, one column per class (default: off)",
    )
    @argument("name", help="run name")
    @argument("expr", help="a Python expression for the features, evaluated in the notebook, e.g. X_new[:5]")
    @no_var_expand
    @line_magic("predict")
    def predict(self, line):
        """Predictions of a run for the value of a Python expression: labels (or --proba) or values."""
        text = line.strip()
        proba = text.startswith("--proba") or text.endswith(" --proba")
        if proba:
            text = text[len("--proba") :].strip() if text.startswith("--proba") else text[: -len(" --proba")].strip()
        try:
            name, expr = first_word(text)  # the name may be quoted: %predict "my run" X_new
        except ValueError:
            raise UsageError(f"%predict: cannot read {text!r}: a quote is not closed.") from None
        if not name or not expr.strip() or name.startswith("-"):
            raise UsageError(
                "%predict needs a run name and an expression: %predict run1 X_new "
                "(or %predict --proba run1 X_new). See %predict?."
            )
        run = self._loaded(name)
        value = self._value(expr.strip(), "%predict")
        try:
            return proba_frame(run, value) if proba else run.predict(value)
        except NbtrainError as exc:
            raise _usage(exc) from None

    # ------------------------------------------------------------------ %runs, %compare, %train_panel
    @line_magic("runs")
    def runs(self, line=""):
        """A table of the runs: this session's and the stored ones of earlier sessions (when), with model,
        loss, optimizer, epochs, status, best val metric, test metric (once evaluated) and time."""
        from ..display.evaluation import runs_table

        if line.strip():
            raise UsageError("%runs takes no arguments; use %evaluate NAME or %compare A B for one run's details.")
        return runs_table(runs.listing())

    @magic_arguments()
    @argument("names", nargs="*", help="runs to compare, stored ones too (default: every run of this session)")
    @line_magic("compare")
    def compare(self, line):
        """Overlaid loss curves and configs / final metrics side by side, differing settings marked."""
        from ..display.evaluation import compare as compare_runs

        args = parse(self.compare, line, "%compare")
        names = args.names or list(runs)
        if not names:
            raise UsageError("%compare: there are no runs yet; train some with %%train first.")
        return compare_runs([self._run(n) for n in names])

    @line_magic("train_panel")
    def train_panel(self, line=""):
        """Show the interactive training builder (nbtrain.panel())."""
        from IPython.display import display

        try:
            from ..api import train
            from ..display.builder import panel

            widget = panel(train=train)
        except ImportError as exc:
            raise UsageError(
                f"%train_panel: the builder panel is not available here ({exc}); use %%train or nbtrain.train instead."
            ) from None
        display(widget)

    # ------------------------------------------------------------------ helpers
    def _loaded(self, name):
        """The run called ``name`` with its model: this session's, else a stored one loaded
        (``nbtrain.load(name)``), so ``%predict`` and ``%evaluate --data`` work after a restart."""
        from ..core.store.stored import StoredRun

        run = self._run(name)
        if isinstance(run, StoredRun):
            from ..api import load

            try:
                run = load(run.name)
            except NbtrainError as exc:
                raise _usage(exc) from None
        return run

    def _value(self, expr: str, magic: str):
        """The value of a Python expression in the notebook's namespace."""
        try:
            return self.shell.ev(expr)
        except NameError as exc:
            raise UsageError(f"{magic}: {exc}; define it in a cell first or check the spelling.") from None

    def _run(self, name):
        if name is None:
            if not runs:
                raise UsageError("there are no runs yet; train one with %%train (or nbtrain.train) first.")
            return runs[next(reversed(runs))]
        found = runs.find(name)  # this session's, else the run store's (name~1: the one before the newest)
        if found is not None:
            return found
        names = [r.name for r in runs.listing()]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(names) if names else "none yet; train one with %%train"
        raise UsageError(f"no run named {name!r}: {hint}runs are: {known}.")


def plain_help(cls) -> None:
    """Drop the reStructuredText ``::`` that IPython's ``magic_arguments`` puts before every usage, so
    ``%%train?`` starts with the usage line itself."""
    for meths in cls.magics.values():
        for meth in meths.values():
            func = getattr(cls, meth, None) if isinstance(meth, str) else meth
            doc = getattr(func, "__doc__", None)
            if isinstance(doc, str) and doc.startswith("::\n"):
                func.__doc__ = doc[2:].lstrip("\n")


def proba_frame(run, X):
    """``%predict --proba``: the class probabilities as a DataFrame, one column per class name (the
    rows keep a DataFrame input's index)."""
    import pandas as pd

    scores = run.predict_proba(X)
    index = X.index if isinstance(X, pd.DataFrame) else None
    return pd.DataFrame(scores, columns=list(run.classes), index=index)
