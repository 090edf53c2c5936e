"""``%%train``: run the cell, read its declarations, call ``nbtrain.train``, store the result."""

from __future__ import annotations

import difflib

from IPython.core.error import UsageError

from ..core.errors import NbtrainError
from ..core.run import runs
from .declarations import declared, snapshot, stale
from .flags import line_options, merge, setting_defaults


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
    return decl


def read_cell(magics, args, cell: str, magic: str = "%%train") -> dict:
    """Run the cell; return the keywords of ``nbtrain.train`` (all but ``name``): its declarations and
    the options it assigned, the magic line's options and the settings' defaults, merged by
    ``flags.merge`` (the line wins over the cell, and says so).  %%lr_find and %%sweep read the cell
    like %%train does."""
    __tracebackhide__ = True
    if magic != "%%train" and getattr(args, "cv", None) is not None:
        raise UsageError(f"{magic}: --cv is for %%train (cross-validation of one setting), not {magic}.")
    shell = magics.shell
    line = line_options(args)
    line.pop("name", None)  # the caller names the run
    source = shell.transform_cell(cell)
    before = snapshot(shell.user_ns)
    execute(shell, source, magic)
    decl = _declarations(shell, args, source, before, magic)
    say = (lambda text: None) if line.get("display") == "none" else print
    return merge(magic, line, decl, setting_defaults(magics), say=say)


def _cross_validate(args, kw: dict):
    from ..cv import cross_validate

    kw.pop("test", None)  # each fold's held-out part is its test split
    try:
        return cross_validate(**kw, k=args.cv, name=args.name)
    except NbtrainError as exc:
        raise UsageError(str(exc)) from None


def run_train(magics, args, cell: str):
    """The body of ``%%train`` (see NbtrainMagics.train)."""
    __tracebackhide__ = True
    from .. import api

    kw = read_cell(magics, args, cell)
    if getattr(args, "cv", None) is not None:  # %%train --cv K: nbtrain.cross_validate's twin
        return _cross_validate(args, kw)
    name = args.name or runs.next_name()
    previous = runs.get(name)
    try:
        run = api.train(**kw, name=name)
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
