"""``%%train``: run the cell, read its declarations, call ``nbtrain.train``, store the result."""

from __future__ import annotations

import difflib

from IPython.core.error import UsageError

from ..core.errors import NbtrainError
from ..core.run import runs
from .declarations import DECLARED, declared, snapshot, stale


def options(magics, args) -> dict:
    """``nbtrain.train`` keywords from the parsed options and the magics' settings."""
    display = "none" if args.quiet else magics.display
    kw = dict(
        epochs=magics.epochs if args.epochs is None else args.epochs,
        batch_size=magics.batch_size if args.batch_size is None else args.batch_size,
        lr=args.lr,
        val=args.val,
        test=args.test,
        seed=magics.seed if args.seed is None else args.seed,
        device=magics.device if args.device is None else args.device,
        patience=args.patience,
        amp=args.amp,
        compile=args.compile,
        clip=args.clip,
        clip_value=args.clip_value,
        accumulate=args.accumulate,
        tf32=args.tf32,
        workers=args.workers,
        steps_per_epoch=args.steps_per_epoch,
        task=args.task,
        classes=args.classes,
        data_device=args.data_device,
        checkpoint=args.checkpoint,
        resume=args.resume,
        target=args.target,
        display=display,
    )
    for key in ("freeze", "keep_columns"):  # fine-tuning and Hugging Face options (docs/hf.md)
        value = getattr(args, key, None)
        if value is not None:
            items = (v.strip().strip("'\"") for v in value.strip("'\"").split(","))  # --freeze 'bert.*'
            kw[key] = [v for v in items if v]
    if getattr(args, "unfreeze_at", None) is not None:
        kw["unfreeze_at"] = args.unfreeze_at
    if args.no_plot:
        kw["plot"] = False  # the panel and the table stay; only the loss plot is left out
    if args.metrics is not None:
        kw["metrics"] = args.metrics
    if args.processes is not None:
        kw["processes"] = args.processes
    return kw


def execute(shell, source: str, magic: str = "%%train") -> None:
    """Run the (transformed) cell body in the user's namespace.  Its exceptions keep their normal
    traceback; this frame is hidden from it."""
    __tracebackhide__ = True
    filename = shell.compile.cache(source, shell.execution_count)
    try:
        code = shell.compile(source, filename, "exec")
    except (SyntaxError, ValueError):
        shell.showsyntaxerror(filename)  # the usual caret display, without our frames
        raise UsageError(f"{magic}: the cell has a syntax error (shown above); nothing was run or trained.") from None
    exec(code, shell.user_ns)


def _declarations(shell, args, source: str, before: dict, magic: str = "%%train") -> dict:
    ns = shell.user_ns
    decl = declared(ns, source, before)
    if args.data is not None:
        if args.data not in ns:
            close = difflib.get_close_matches(args.data, [k for k in ns if not k.startswith("_")], n=1, cutoff=0.7)
            hint = f"did you mean --data {close[0]}? " if close else ""
            raise UsageError(
                f"{magic}: --data {args.data}: there is no variable {args.data!r} in the notebook; "
                f"{hint}define it in an earlier cell or in this one."
            )
        if "data" in decl:
            raise UsageError(f"{magic}: the cell assigns `data` and --data names {args.data!r}; use one of them.")
        decl["data"] = ns[args.data]
    if "data" not in decl:
        old = (
            " (a `data` from an earlier cell exists but is not used: add --data data to train on it)"
            if "data" in stale(ns, source, before)
            else ""
        )
        raise UsageError(
            f"{magic}: the cell did not assign `data`; declare it, e.g. "
            f"data = load_iris(return_X_y=True), or name a variable with --data NAME{old}."
        )
    if "metrics" in decl and args.metrics is not None:
        raise UsageError(f"{magic}: the cell assigns `metrics` and --metrics is given; use one of them.")
    return decl


def read_cell(magics, args, cell: str, magic: str = "%%train", extra: tuple = ()):
    """Run the cell; return ``(train keywords from the options, its declarations, its assignments of
    the names in extra)`` (%%lr_find and %%sweep read the cell like %%train does)."""
    __tracebackhide__ = True
    shell = magics.shell
    kw = options(magics, args)
    source = shell.transform_cell(cell)
    before = snapshot(shell.user_ns, DECLARED + tuple(extra))
    execute(shell, source, magic)
    decl = _declarations(shell, args, source, before, magic)
    return kw, decl, declared(shell.user_ns, source, before, names=tuple(extra))


def run_train(magics, args, cell: str):
    """The body of ``%%train`` (see NbtrainMagics.train)."""
    __tracebackhide__ = True
    from .. import api

    kw, decl, _ = read_cell(magics, args, cell)
    name = args.name or runs.next_name()
    previous = runs.get(name)
    try:
        run = api.train(**{k: decl[k] for k in DECLARED if k in decl}, **kw, name=name)
    except NbtrainError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        # an interrupt outside the loop's batch boundaries (a view, the pre-flight batch): the run
        # ends as "stopped" all the same; before the run existed, it is a plain interrupt
        run = runs.get(name)
        if run is None or run is previous:
            raise
        if run.status in ("pending", "running"):
            run.status, run.note = "stopped", "interrupted (KeyboardInterrupt)"
    magics.shell.user_ns["model"] = run.model
    return run
