"""``%explain``: why a run decides, shown inline (parse, find or load the run, delegate to
``nbtrain.display.explain.explain``)."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from ..core.errors import NbtrainError
from ..core.run import Run
from .core import parse


@magics_class
class ExplainMagics(Magics):
    """``%explain``; it finds runs like ``%evaluate`` (``settings``: the ``NbtrainMagics`` instance)."""

    def __init__(self, shell=None, settings=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self.settings = settings

    @magic_arguments()
    @argument(
        "name",
        nargs="?",
        default=None,
        help="run name, or a stored run's: name~1 is the one before (default: the latest)",
    )
    @argument("--on", choices=["test", "val", "train"], default="test", help="which split (default: test)")
    @argument(
        "--data",
        metavar="EXPR",
        default=None,
        help="explain these rows instead of a split: a Python expression for (X, y), e.g. (X_test, y_test); "
        "needed for a stored run of an earlier session, which holds no data (default: none)",
    )
    @argument(
        "--tokenizer",
        metavar="EXPR",
        default=None,
        help="reads token ids as text: a Python expression for a tokenizer (default: the run's own, if any)",
    )
    @argument("--top", type=int, default=9, metavar="K", help="rows with the highest loss to show (default: 9)")
    @argument(
        "--importance",
        action="store_true",
        help="permutation importance of the input columns, or of each input for several inputs (default: off)",
    )
    @argument("--repeats", type=int, default=5, help="shuffles per column for --importance (default: 5)")
    @argument(
        "--attribute",
        action="store_true",
        help="attribution maps of the top-loss rows, coloured tokens for token data (default: off)",
    )
    @argument(
        "--method",
        choices=["integrated_gradients", "saliency"],
        default="integrated_gradients",
        help="attribution method for --attribute (default: integrated_gradients)",
    )
    @argument(
        "--layer",
        metavar="NAME",
        default=None,
        help="for --attribute: the layer that token ids are attributed through, by its name in the model, "
        "where no embedding reads them directly or the model has several (default: the embedding that reads them)",
    )
    @argument(
        "--no-progress",
        action="store_true",
        dest="no_progress",
        help="no progress line for --importance / --attribute, which otherwise shows after a second; for "
        "notebooks checked by nbval (default: off)",
    )
    @no_var_expand
    @line_magic("explain")
    def explain(self, line):
        """Why a run decides: its top losses, the classes it confuses most, and (with --importance /
        --attribute) which inputs matter.  Returns the result; `_.explanation` is the Explanation."""
        from ..display.explain import explain as explain_run

        args = parse(self.explain, line, "%explain")
        data = None if args.data is None else self.settings._value(args.data, "%explain --data")
        tokenizer = None if args.tokenizer is None else self.settings._value(args.tokenizer, "%explain --tokenizer")
        if args.layer is not None and not args.attribute:
            raise UsageError("%explain: --layer NAME names the layer for --attribute; add --attribute.")
        run = self.settings._run(args.name)
        if not isinstance(run, Run):  # a stored run of an earlier session: its weights from the run store
            if data is None:
                raise UsageError(
                    f"%explain: run {run.name!r} comes from the run store and holds no data; give the rows: "
                    f"%explain {run.name} --data (X_test, y_test)."
                )
            run = self.settings._loaded(run.name)
        try:
            return explain_run(
                run,
                on=args.on,
                data=data,
                top=args.top,
                importance=args.importance,
                attribute=args.attribute,
                method=args.method,
                n_repeats=args.repeats,
                progress=not args.no_progress,
                tokenizer=tokenizer,
                layer=args.layer,
            )
        except NbtrainError as exc:
            raise UsageError(f"%explain: {exc}") from None
