"""The magics' side of the option registry (``core/options.py``): the ``%%train`` flags, the split of a
magic line, and which value wins when the magic line and the cell both set an option.

A magic line is split like a shell line: quotes group words and are removed (``--name "my run"`` is the
name ``my run``, ``--lr "1e-3"`` the number); backslashes stay as typed (Windows paths).  IPython's own
``parse_argstring`` splits with ``shlex`` in non-POSIX mode on Linux and macOS, which keeps the quotes
inside the value (``--target "segment"`` looked for a column named ``"segment"``), so every nbtrain
magic parses through :func:`split_line` instead.

>>> split_line('--name "my run" --lr 1e-3 --checkpoint C:\\\\runs\\\\a.pt')
['--name', 'my run', '--lr', '1e-3', '--checkpoint', 'C:\\\\runs\\\\a.pt']
"""

from __future__ import annotations

import shlex

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument

from ..core.errors import NbtrainError
from ..core.options import FLAGGED, OPTION
from ..core.tune.space import Space


def split_line(line: str) -> list:
    """The words of a magic line, as a POSIX shell splits them, but with backslashes kept and Python
    brackets respected: quotes at the top level group words and are removed, while a bracketed
    expression (``--data (X[cols], df['y'])``) is one word, kept as typed.  Raises ValueError on an
    unclosed quote."""
    words, word, depth, quote, started = [], [], 0, None, False
    for ch in line:
        if quote is not None:  # inside a quoted part: only its closing quote ends it
            if ch == quote[0]:
                keep, quote = quote[1], None
                if keep:
                    word.append(ch)
            else:
                word.append(ch)
            continue
        if ch in "'\"":
            quote, started = (ch, depth > 0), True  # quotes inside brackets are Python's: kept
            if depth > 0:
                word.append(ch)
        elif ch.isspace() and depth == 0:
            if started:
                words.append("".join(word))
            word, started = [], False
        else:
            depth += ch in "([{"
            depth = max(depth - (ch in ")]}"), 0)
            word.append(ch)
            started = True
    if quote is not None:
        raise ValueError("No closing quotation")
    if started:
        words.append("".join(word))
    return words


def first_word(text: str) -> tuple:
    """``(first word, the rest)`` of a line whose rest is Python (``%predict NAME EXPR``): the first word
    may be quoted (``%predict "my run" X_new``).  Raises ValueError on an unclosed quote."""
    text = text.strip()
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end < 0:
            raise ValueError("No closing quotation")
        return text[1:end], text[end + 1 :].strip()
    word, _, rest = text.partition(" ")
    return word, rest.strip()


def train_flags(func):
    """Give a magic one flag per option of the registry that has one (in the registry's order in its
    help, ``--data NAME`` last).  Every flag defaults to None: "given on the line" differs from a default."""
    ordered = [o for o in FLAGGED if o.kind == "option"] + [o for o in FLAGGED if o.kind != "option"]  # --data last
    for o in reversed(ordered):
        kw = dict(dest=o.name, default=None, help=o.help.replace("%", "%%"))  # argparse %-formats help
        if o.sets is not None:
            kw.update(action="store_const", const=o.sets)
        else:
            kw.update(type=o.parse, choices=o.choices, metavar=o.metavar)
            kw = {k: v for k, v in kw.items() if v is not None or k == "default"}
        func = argument(o.flag, **kw)(func)
    return func


def line_options(args) -> dict:
    """The options the magic line gave: ``{train keyword: value}`` (``--data NAME`` is not one: it names
    a variable)."""
    return {
        o.name: getattr(args, o.name) for o in FLAGGED if o.name != "data" and getattr(args, o.name, None) is not None
    }


def setting_defaults(settings) -> dict:
    """The defaults ``%config NbtrainMagics`` gives (epochs, batch_size, seed, device, display)."""
    return {o.name: getattr(settings, o.name) for o in OPTION.values() if o.setting}


def shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_cell(magic: str, cell: dict, merged: dict) -> None:
    """A value the cell assigns to an option's name must fit the option (``checkpoint = torch.load(...)``
    in a cell is the option ``checkpoint``): one UsageError names it and says how to keep the variable."""
    for key, value in cell.items():
        o = OPTION[key]
        if o.kind != "option" or o.check is None or merged.get(key) is not value or isinstance(value, Space):
            continue  # a %%sweep search space is checked by the sweep, value by value
        try:
            o.check(value, key, merged)
        except NbtrainError as exc:
            raise UsageError(
                f"{magic}: the cell assigns {key}, an option of {magic}: {exc} "
                f"Rename the variable if it is not meant as the option."
            ) from None


def merge(magic: str, line: dict, cell: dict, settings: dict, say=print) -> dict:
    """The options of the call: the magic line's, then the cell's, then the settings'.  When the line and
    the cell both set one, the line wins (as a command line's flag wins over the file it runs: the
    cell stays as written, and ``--epochs 1`` tries it quickly) and ``say`` gets one line saying so."""
    for key in sorted(line.keys() & cell.keys()):
        if line[key] is cell[key]:
            continue
        o = OPTION[key]
        typed = shlex.quote(line[key]) if isinstance(line[key], str) else shown(line[key])
        given = o.flag if o.sets is not None else f"{o.flag} {typed}"
        say(f"{magic}: {given} on the magic line wins over {key} = {shown(cell[key])} in the cell.")
    merged = {**settings, **cell, **line}
    check_cell(magic, cell, merged)
    return merged
