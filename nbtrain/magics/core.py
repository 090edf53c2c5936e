"""The magics class: settings (traitlets) and thin magics over ``nbtrain.train`` and the display twins."""

from __future__ import annotations

import difflib
import re

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Enum, Int, TraitError, Unicode, observe, validate

from ..core.errors import NbtrainError
from ..core.run import runs
from .train import run_train

DISPLAYS = ("auto", "notebook", "console", "none")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def lr_value(text: str):
    """``--lr``: a number, or ``auto`` (the learning-rate finder picks it)."""
    return "auto" if text.strip().lower() == "auto" else float(text)


lr_value.__name__ = "lr"  # argparse's message: "invalid lr value: 'x'"


def _usage(exc: NbtrainError) -> UsageError:
    """A user mistake: one short message (IPython prints UsageError without a traceback)."""
    return UsageError(str(exc))


def parse(func, line: str, magic: str):
    """Parse a magic's options; unknown options get a 'did you mean' and a pointer to the help."""
    try:
        return parse_argstring(func, line)
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
    @argument("--epochs", type=int, default=None, help="epochs to train (default: NbtrainMagics.epochs, 10)")
    @argument(
        "--batch-size",
        type=int,
        default=None,
        dest="batch_size",
        help="mini-batch size (default: NbtrainMagics.batch_size, 32)",
    )
    @argument(
        "--lr",
        type=lr_value,
        default=None,
        help="learning rate, or auto: run %%%%lr_find first and train with its suggestion "
        "(default: the optimizer's own default)",
    )
    @argument("--name", default=None, help="name of the run in nbtrain.runs (default: run1, run2, ...)")
    @argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: NbtrainMagics.device, auto)")
    @argument("--seed", type=int, default=None, help="random seed; results repeat (default: NbtrainMagics.seed, 0)")
    @argument(
        "--val",
        type=float,
        default=0.2,
        help="validation fraction, stratified for classification; ignored when the cell declares "
        "val_data (default: 0.2)",
    )
    @argument(
        "--test", type=float, default=0.2, help="test fraction; ignored when the cell declares test_data (default: 0.2)"
    )
    @argument(
        "--metrics",
        default=None,
        help="comma-separated metrics, e.g. accuracy,f1,auc or mse,mae,r2 "
        "(default: accuracy,f1 for classification, mse,r2 for regression)",
    )
    @argument(
        "--patience",
        type=int,
        default=None,
        help="early stopping after this many epochs without improvement (default: off)",
    )
    @argument("--amp", choices=["bf16", "fp16"], default=None, help="mixed precision (default: off)")
    @argument("--compile", action="store_true", help="use torch.compile (default: off)")
    @argument("--clip", type=float, default=None, help="clip the gradients' total norm to this (default: off)")
    @argument(
        "--clip-value",
        type=float,
        default=None,
        dest="clip_value",
        help="clip each gradient element to [-v, v] (default: off)",
    )
    @argument(
        "--accumulate",
        type=int,
        default=1,
        metavar="K",
        help="one optimizer step per K batches, like one K-times-larger batch (default: 1)",
    )
    @argument("--tf32", action="store_true", help="TF32 matmuls and cudnn.benchmark on CUDA (default: off)")
    @argument(
        "--workers", type=int, default=0, metavar="N", help="DataLoader worker processes for a Dataset (default: 0)"
    )
    @argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        dest="steps_per_epoch",
        metavar="N",
        help="batches per epoch, required for an IterableDataset (default: none)",
    )
    @argument(
        "--task",
        choices=["classification", "regression", "multilabel"],
        default=None,
        help="the task, when the targets do not tell (default: from the loss, the model or the targets)",
    )
    @argument(
        "--classes",
        default=None,
        metavar="K|A,B,...",
        help="the number of classes or their names, comma-separated; a Dataset then needs no pass over "
        "its labels (default: dataset.classes / targets, or the labels seen)",
    )
    @argument(
        "--data-device",
        choices=["auto", "cpu", "device"],
        default="auto",
        dest="data_device",
        help="where in-memory arrays live: on the device, or on the host with a copy per batch "
        "(default: auto, the host when they do not fit in free device memory)",
    )
    @argument(
        "--no-plot",
        action="store_true",
        dest="no_plot",
        help="no loss plot: the progress panel and the metric table only (default: off)",
    )
    @argument("--quiet", action="store_true", help="show nothing while training (default: off)")
    @argument("--checkpoint", metavar="PATH", default=None, help="save a checkpoint after every epoch (default: none)")
    @argument("--resume", action="store_true", help="continue from --checkpoint PATH (default: off)")
    @argument(
        "--freeze",
        default=None,
        metavar="P,Q|body",
        help="freeze parameters by name pattern, comma-separated, or body: all but the output head (default: none)",
    )
    @argument(
        "--unfreeze-at",
        type=int,
        default=None,
        dest="unfreeze_at",
        metavar="E",
        help="unfreeze at epoch E (default: never)",
    )
    @argument(
        "--keep-columns",
        default=None,
        dest="keep_columns",
        metavar="A,B",
        help="Hugging Face Dataset columns to keep although the model's forward does not take them (default: none)",
    )
    @argument("--target", metavar="COLUMN", default=None, help="target column when data is a DataFrame (default: none)")
    @argument(
        "--data",
        metavar="NAME",
        default=None,
        help="train on this existing variable instead of a `data` the cell assigns (default: none)",
    )
    @argument(
        "--processes",
        type=int,
        default=None,
        help="data-parallel training on N processes (default: one process, in the kernel)",
    )
    @cell_magic("train")
    def train(self, line, cell):
        """Train a model from the declarations of this cell and return the Run.

        The cell runs as ordinary Python; then only the names it assigned are read:
        data (required, or --data NAME), val_data, test_data, preprocess, model, loss, optimizer,
        scheduler, metrics, callbacks.  The trained model is put back as `model`, the Run is
        registered in nbtrain.runs under --name and returned (so `_` holds it).
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
        "--metrics",
        default=None,
        help="comma-separated metrics (default: all that fit the task: accuracy,precision,recall,f1,auc or mse,mae,r2)",
    )
    @argument(
        "--plot",
        default=None,
        help="confusion, roc or confusion,roc for classification; pred (predicted vs true) for "
        "regression (default: no plot)",
    )
    @line_magic("evaluate")
    def evaluate(self, line):
        """Evaluate a run on a split: a metric table (and plots); returns the metrics dict.  A stored run of
        an earlier session shows the metrics saved when it was evaluated in its session."""
        from ..display.evaluation import evaluate as evaluate_run

        args = parse(self.evaluate, line, "%evaluate")
        run = self._run(args.name)
        try:
            return evaluate_run(run, on=args.on, metrics=args.metrics, plot=args.plot)
        except NbtrainError as exc:
            raise _usage(exc) from None

    # ------------------------------------------------------------------ %predict
    @magic_arguments()
    @argument("--proba", action="store_true", help="class probabilities instead of labels (default: off)")
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
        name, _, expr = text.partition(" ")
        if not name or not expr.strip() or name.startswith("-"):
            raise UsageError(
                "%predict needs a run name and an expression: %predict run1 X_new "
                "(or %predict --proba run1 X_new). See %predict?."
            )
        run = self._run(name)
        try:
            value = self.shell.ev(expr.strip())
        except NameError as exc:
            raise UsageError(f"%predict: {exc}; define it in a cell first or check the spelling.") from None
        try:
            return run.predict_proba(value) if proba else run.predict(value)
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
