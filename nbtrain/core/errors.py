"""The errors users see.  Each message is one sentence: what was wrong and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NbtrainError(Exception):
    """Base class of every user-facing nbtrain error."""


class ConfigError(NbtrainError, ValueError):
    """A bad option value (epochs, lr, split fractions, device, ...)."""


class PresetError(NbtrainError, ValueError):
    """An unknown or malformed preset string."""


class DataError(NbtrainError, ValueError):
    """Data that cannot be trained on as given (shapes, NaN, empty, labels)."""


class DataTypeError(NbtrainError, TypeError):
    """Data or an argument of an unsupported type."""


class ShapeError(NbtrainError, ValueError):
    """The model, the loss and the data do not fit together."""


class DeviceError(NbtrainError, RuntimeError):
    """The requested device is not available."""


class RunFileError(NbtrainError, ValueError):
    """A run file or checkpoint that cannot be read."""


class ExplainError(NbtrainError, ValueError):
    """An explanation (``run.explain``) that cannot be computed for this run or these inputs."""


def first_line(exc, limit: int = 160) -> str:
    """The first non-blank line of an exception's message (or of a message string), cut to ``limit``.

    An exception with an empty message (``raise ValueError()``) gives its type name, so an error
    that quotes someone else's exception never ends up quoting nothing (or raising IndexError).

    >>> first_line(ValueError()), first_line(RuntimeError("a\\nb"))
    ('ValueError', 'a')
    """
    text = exc if isinstance(exc, str) else str(exc)
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:limit]
    return "" if isinstance(exc, str) else type(exc).__name__


def quote(exc: BaseException, limit: int = 160) -> str:
    """``"TypeName: first line"``, or ``"TypeName"`` when the message is empty: an error in the user's
    own code (their model, their loss), named so they can find it.

    >>> quote(ValueError()), quote(RuntimeError("shapes differ\\nmore"))
    ('ValueError', 'RuntimeError: shapes differ')
    """
    text = first_line(str(exc), limit)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def unknown_name(kind: str, name: str, known: Iterable[str]) -> PresetError:
    """Build the error for an unknown preset name, suggesting the closest known one."""
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return PresetError(f"unknown {kind} {name!r}: {hint}known {kind}s are {', '.join(known)}.")
