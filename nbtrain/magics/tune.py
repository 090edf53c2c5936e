"""``%%lr_find`` and ``%%sweep``: the cell body and the options of ``%%train``, run like ``%%train``
(``magics/train.py: read_cell``), handed to ``nbtrain.lr_find`` / ``nbtrain.sweep``.

In a ``%%sweep`` cell, any option the cell assigns can be a search space:
``lr = nbtrain.loguniform(1e-4, 1e-1)``, ``batch_size = nbtrain.choice([32, 128])``,
``epochs = nbtrain.intrange(5, 20, step=5)``, ``patience = ...``.
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..core.errors import NbtrainError
from .core import NbtrainMagics, parse
from .train import read_cell


def train_options(func):
    """Give a magic every option of ``%%train`` (listed after its own in its help)."""
    if not getattr(func, "has_arguments", False):
        func.has_arguments, func.decorators = True, []
    func.decorators[:0] = list(NbtrainMagics.train.decorators)
    return func


@magics_class
class TuneMagics(Magics):
    """``%%lr_find`` and ``%%sweep``; defaults come from the ``NbtrainMagics`` settings."""

    def __init__(self, shell=None, settings=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self.settings = settings

    def _read(self, args, cell, magic):
        return read_cell(self.settings, args, cell, magic)

    @magic_arguments("%lr_find")
    @argument("--start-lr", dest="start_lr", type=float, default=1e-7, help="the ramp's first rate (default: 1e-7)")
    @argument("--end-lr", dest="end_lr", type=float, default=10.0, help="the ramp's last rate (default: 10)")
    @argument("--steps", type=int, default=100, help="steps of the ramp, at most (default: 100)")
    @argument(
        "--rule",
        choices=["minimum", "steepest"],
        default="minimum",
        help="minimum: the smoothed loss's minimum / 10 (fastai); steepest: its steepest descent "
        "(Lightning) (default: minimum)",
    )
    @train_options
    @cell_magic("lr_find")
    def lr_find(self, line, cell):
        """Find a learning rate for the model this cell declares (the same body and options as %%train).

        An exponential ramp of the learning rate, stopped when the loss diverges; the model, the
        optimizer and the RNGs are put back afterwards.  Shows loss against learning rate with the
        suggestion marked and returns the suggestion, a number: best = _, then %%train --lr $best
        (or lr = best in the cell).  The %%train options that only matter to a training run (--name,
        --patience, --checkpoint...) are ignored.
        """
        __tracebackhide__ = True
        from ..tuning import lr_find

        args = parse(self.lr_find, line, "%%lr_find")
        kw = self._read(args, cell, "%%lr_find")
        try:
            return lr_find(**kw, start_lr=args.start_lr, end_lr=args.end_lr, steps=args.steps, rule=args.rule)
        except NbtrainError as exc:
            raise UsageError(str(exc)) from None

    @magic_arguments("%sweep")
    @argument("--trials", type=int, default=20, help="trials in all, over every worker of the study (default: 20)")
    @argument("--metric", default=None, help="history column to optimise, e.g. val_accuracy (default: val_loss)")
    @argument(
        "--sampler", choices=["tpe", "random", "grid"], default="tpe", help="Optuna's sampler, seeded (default: tpe)"
    )
    @argument("--prune", action="store_true", help="stop hopeless trials early (Optuna's MedianPruner)")
    @argument(
        "--storage",
        metavar="PATH",
        default=None,
        help="keep the study in this file (journal; .db: SQLite): several processes can work on it, and "
        "the same sweep run again goes on (default: in memory)",
    )
    @train_options
    @cell_magic("sweep")
    def sweep(self, line, cell):
        """Search hyperparameters: a %%train cell in which some values are search spaces.

            lr = nbtrain.loguniform(1e-4, 1e-1)
            model = nbtrain.choice(["mlp(32)", "mlp(64, 64)"])
            batch_size = nbtrain.choice([32, 128])

        Each trial is a Run named <sweep>/<trial> (--name gives the sweep's name).  Shows a live
        leaderboard and the current trial; at the end the best trial, the table, the optimisation
        history and the parameter importances.  Returns the Sweep.  Needs Optuna (nbtrain[tune]).
        """
        __tracebackhide__ = True
        from ..tuning import sweep

        args = parse(self.sweep, line, "%%sweep")
        kw = self._read(args, cell, "%%sweep")
        try:
            return sweep(
                **kw, name=args.name, trials=args.trials, metric=args.metric, sampler=args.sampler,
                prune=args.prune, storage=args.storage,
            )  # fmt: skip
        except NbtrainError as exc:
            raise UsageError(str(exc)) from None
