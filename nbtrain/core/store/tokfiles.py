"""A run's tokenizer in its run file: the tokenizer's own files (``save_pretrained``), no pickle.

The files go under ``tokenizer/`` in the zip (``tokenizer.json``, ``tokenizer_config.json``, ...).
Loading writes them to a temporary folder and calls ``<TokenizerClass>.from_pretrained(folder)``, the
class looked up by name among those that ``transformers`` exports (any other name is refused);
``auto_map`` (remote code) is left out of the config, and nothing in the file is executed or unpickled.

>>> members = tokenizer_members(tok)     # {"tokenizer/tokenizer.json": b"...", ...}   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile

from ..errors import RunFileError, first_line

PREFIX = "tokenizer/"
CONFIG = "tokenizer_config.json"
#: the class that reads a folder with a tokenizer.json when the config names none
FAST = "PreTrainedTokenizerFast"


def tokenizer_members(tokenizer) -> dict:
    """``{"tokenizer/<file>": bytes}``: what ``save_pretrained`` writes, plus the class name in the config."""
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        out = {}
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    out[PREFIX + name] = f.read()
    config = _json(out.get(PREFIX + CONFIG, b"{}")) or {}
    config["nbtrain_class"] = type(tokenizer).__name__  # the class that wrote the files: read them with it
    out[PREFIX + CONFIG] = json.dumps(config).encode()
    return out


def _json(blob):
    try:
        obj = json.loads(blob)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _class(config: dict, files: dict, where: str):
    try:
        import transformers
    except ImportError:
        raise RunFileError(f"{where} holds a tokenizer; pip install transformers (or 'nbtrain[hf]').") from None
    for name in (config.get("nbtrain_class"), config.get("tokenizer_class"), FAST):
        if not isinstance(name, str) or not name.isidentifier():
            continue
        cls = getattr(transformers, name, None)
        if isinstance(cls, type) and issubclass(cls, transformers.PreTrainedTokenizerBase):
            if name != FAST or "tokenizer.json" in files:
                return cls
    raise RunFileError(
        f"{where}: its tokenizer names no tokenizer class that transformers exports "
        f"({config.get('nbtrain_class') or config.get('tokenizer_class')!r}); refused (another transformers version?)."
    )


def read_tokenizer(files: dict, where: str):
    """The tokenizer of the members ``files`` (``{"<file>": bytes}``, without the prefix)."""
    bad = [n for n in files if not n or "/" in n or "\\" in n or n.startswith(".")]
    if bad:
        raise RunFileError(f"{where}: tokenizer file names {bad[:3]} are not plain file names; refused.")
    config = _json(files.get(CONFIG, b"{}"))
    if config is None:
        raise RunFileError(f"{where}: tokenizer/{CONFIG} is not a JSON object.")
    cls = _class(config, files, where)
    for key in ("auto_map", "trust_remote_code", "nbtrain_class"):
        config.pop(key, None)
    files = dict(files, **{CONFIG: json.dumps(config).encode()})
    with tempfile.TemporaryDirectory() as folder:
        for name, blob in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(blob)
        try:
            return cls.from_pretrained(folder, local_files_only=True)
        except Exception as exc:
            raise RunFileError(f"{where}: its tokenizer cannot be read ({first_line(exc, 100)}).") from None
