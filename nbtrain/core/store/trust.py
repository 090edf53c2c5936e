"""Fitted scikit-learn preprocessing as data (skops), loaded with an exact trust list.

Only skops' own trusted types (scikit-learn estimators, numpy ufuncs, builtins) plus the exact names
in ``SAFE_SKOPS_TYPES`` load without asking; anything else must be named in ``trusted=``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import RunFileError, first_line

# Exact type names trusted beyond skops' defaults.  Never a prefix: "sklearn." would also match
# aliases such as "sklearn.utils._testing.check_output" (that is subprocess.check_output).
SAFE_SKOPS_TYPES = frozenset({"numpy.dtype"})


def dump_transformer(transformer) -> bytes:
    import skops.io as sio

    try:
        return sio.dumps(transformer)
    except Exception as exc:  # skops refuses what it cannot store as data (lambdas, custom classes)
        raise RunFileError(
            f"the preprocessing {type(transformer).__name__} cannot be saved as data ({first_line(exc)}); "
            "use scikit-learn transformers or nbtrain presets."
        ) from None


def load_transformer(blob: bytes, trusted: Iterable[str] = (), where: str = "run file"):
    """Load a skops blob.  Types outside skops' defaults, ``SAFE_SKOPS_TYPES`` and ``trusted`` are refused."""
    import skops.io as sio

    if isinstance(trusted, str):
        trusted = [trusted]
    try:
        untrusted = sio.get_untrusted_types(data=blob)
    except Exception:
        raise RunFileError(f"{where}: preprocess.skops is damaged or not a skops file.") from None
    allowed = SAFE_SKOPS_TYPES | set(trusted)
    refused = sorted(t for t in untrusted if t not in allowed)
    if refused:
        names = ", ".join(refused)
        if len(names) > 200:
            names = names[:200] + "..."
        raise RunFileError(
            f"{where}: its preprocessing (preprocess.skops) needs untrusted types {names}; "
            "if you trust this file, pass trusted=[...] with those names to nbtrain.load."
        )
    try:
        return sio.loads(blob, trusted=list(untrusted))
    except Exception as exc:
        raise RunFileError(
            f"{where}: preprocess.skops could not be loaded ({type(exc).__name__}: {first_line(exc)})."
        ) from None
