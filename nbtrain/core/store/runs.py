"""The run store: every finished run kept on disk, so that a new kernel can list, compare and load it.

A folder (by default ``.nbtrain/runs`` in the working directory) with two files per run, each written
atomically, the run file first (an entry never points at a half-written file):

- ``<id>.nbtrain``  the run file, ``Run.save``'s format: weights, preprocessing, config, history
- ``<id>.json``     the entry: name, when, session, status, config, history and saved metrics

Listing reads the entries only (the registry makes them :class:`~.stored.StoredRun`); weights are read
when a run is loaded.  There is one entry per name and session: training a name again in the same
session replaces it (as ``nbtrain.runs`` does), a name reused in a later session keeps both (the
registry labels the older ones ``name~1``, ``name~2``, ...).
A damaged or foreign file in the folder is skipped with one warning; a store that cannot be written
turns itself off with one warning and the run stays in the session.

>>> store = RunStore("/tmp/runs")           # doctest: +SKIP
>>> store.put(run); [e["name"] for e in store.entries()]   # doctest: +SKIP
['iris_mlp']
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
import warnings
import weakref
from datetime import datetime

from ..errors import quote
from .atomic import atomic_write
from .runfile import _json_default, run_file_bytes
from .safe_load import check_history

ENTRY_FORMAT, ENTRY_VERSION = "nbtrain-store-entry", 1
DEFAULT_PATH = os.path.join(".nbtrain", "runs")
SESSION = uuid.uuid4().hex[:12]  # this process: a name trained again in it replaces its own entry
FINISHED = ("completed", "stopped", "failed")
_MAX_ENTRY = 64 * 2**20
_FILE = re.compile(r"^[\w.-]+\.nbtrain$")  # an entry's run file: a plain name inside the store, never a path


class StoreWarning(UserWarning):
    """The run store is off (cannot be written) or holds files it skipped (damaged or foreign)."""


def _entry_id(name: str) -> str:
    safe = re.sub(r"[^\w.-]", "_", name)[:48]
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe}-{digest}-{SESSION}"


def _plain_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_entry(entry, fn: str) -> dict:
    """The entry if it is one this nbtrain wrote and can list, else ValueError saying why not."""
    if not isinstance(entry, dict) or entry.get("format") != ENTRY_FORMAT:
        raise ValueError("not an nbtrain store entry")
    version = entry.get("version")
    if version != ENTRY_VERSION:
        newer = _plain_number(version) and version > ENTRY_VERSION
        raise ValueError("written by a newer nbtrain" if newer else f"entry version {version!r}")
    checks = {
        "name": isinstance(entry.get("name"), str) and entry["name"].strip(),
        "session": isinstance(entry.get("session"), str),
        "when": isinstance(entry.get("when"), str),
        "time": _plain_number(entry.get("time")),
        "status": entry.get("status") in FINISHED,
        "task": entry.get("task") in ("classification", "regression"),
        "config": isinstance(entry.get("config"), dict),
        "file": entry.get("file") is None or (isinstance(entry["file"], str) and _FILE.match(entry["file"])),
        "evaluations": isinstance(entry.get("evaluations"), dict)
        and all(
            isinstance(m, dict) and all(isinstance(k, str) and _plain_number(v) for k, v in m.items())
            for m in entry["evaluations"].values()
        ),
    }
    wrong = [k for k, ok in checks.items() if not ok]
    if wrong:
        raise ValueError(f"malformed {', '.join(wrong)}")
    check_history(entry.get("history"), fn)  # RunFileError is a ValueError
    return entry


class RunStore:
    """One store folder: :meth:`put` a finished run, :meth:`entries` to list, :meth:`file` to load one."""

    def __init__(self, path):
        self.path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        self.off: str | None = None  # why writing stopped, once it did
        self._skipped: set = set()  # files already warned about
        self._cache: dict = {}  # file name -> (mtime_ns, size, entry)
        self._written: dict = {}  # entry id -> (weakref to the run, entry) for runs of this session

    def __repr__(self) -> str:
        return f"RunStore({self.path!r}{', off' if self.off else ''})"

    # ------------------------------------------------------------------ writing
    def put(self, run) -> str | None:
        """Write ``run`` (run file, then entry).  Never raises: a store that cannot be written turns
        off with one warning; a run whose weights or preprocessing cannot be saved keeps its entry
        (history, config, metrics) without a run file."""
        if self.off:
            return None
        finished = run.status in FINISHED
        status = run.status if finished else "stopped"  # interrupted outside the loop: it ended all the same
        entry_id = _entry_id(run.name)
        entry = {
            "format": ENTRY_FORMAT,
            "version": ENTRY_VERSION,
            "name": run.name,
            "session": SESSION,
            "when": datetime.now().astimezone().isoformat(timespec="seconds"),
            "time": time.time(),
            "status": status,
            "note": run.note if finished else "interrupted (KeyboardInterrupt)",
            "error": run.error,
            "task": run.task,
            "config": run.config,
            "history": run.history.rows,
            "best_epoch": run.best_epoch,
            "started": getattr(run, "started", None),  # %runs' "when" (older entries: their "time")
            "evaluations": dict(getattr(run, "evaluations", {})),
            "file": entry_id + ".nbtrain",
            "unsaved": None,
        }
        try:
            blob = run_file_bytes(run, status=status)
        except Exception as exc:  # e.g. preprocessing skops cannot store as data: keep what can be kept
            blob, entry["file"], entry["unsaved"] = None, None, quote(exc)
        try:
            if blob is not None:
                atomic_write(os.path.join(self.path, entry["file"]), blob, durable=False)
            self._write_entry(entry_id, entry)
        except OSError as exc:
            self._turn_off(exc)
            return None
        except Exception as exc:  # never lose the run over its copy on disk
            self._warn(f"run {run.name!r} was not kept in the run store {self.path!r}: {quote(exc)}.")
            return None
        self._written[entry_id] = (weakref.ref(run), entry)
        run._store = self
        return entry_id

    def record(self, run) -> None:
        """Save ``run.evaluations`` into its entry (``%evaluate NAME`` shows them in a later kernel)."""
        entry_id = _entry_id(run.name)
        ref, entry = self._written.get(entry_id, (None, None))
        if self.off or ref is None or ref() is not run:  # a newer run of that name replaced it
            return
        entry["evaluations"] = {k: dict(v) for k, v in run.evaluations.items()}
        try:
            self._write_entry(entry_id, entry)
        except OSError as exc:
            self._turn_off(exc)

    def _write_entry(self, entry_id: str, entry: dict) -> None:
        text = json.dumps(entry, default=_json_default)
        atomic_write(os.path.join(self.path, entry_id + ".json"), text.encode(), durable=False)

    def _turn_off(self, exc: OSError) -> None:
        self.off = exc.strerror or str(exc)
        self._warn(
            f"the run store {self.path!r} cannot be written ({self.off}); the store is off: runs stay in this "
            "session only, nothing else is lost. Choose a writable folder with nbtrain.configure(store=PATH) "
            "or %config NbtrainMagics.store = PATH."
        )

    def _warn(self, message: str) -> None:
        warnings.warn(message, StoreWarning, stacklevel=4)

    # ------------------------------------------------------------------ reading
    def entries(self) -> list[dict]:
        """The entries that can be listed, oldest first.  Anything else is skipped, with one warning."""
        try:
            names = sorted(os.listdir(self.path))
        except FileNotFoundError:
            return []
        except OSError as exc:
            if "" not in self._skipped and not self.off:  # an unwritable store has said so already
                self._skipped.add("")
                self._warn(f"the run store {self.path!r} cannot be read ({exc.strerror or exc}); no stored runs.")
            return []
        good, bad = [], []
        for fn in names:
            # hidden files are atomic writes in progress; run files are read through their entries
            if fn.startswith(".") or fn.endswith(".nbtrain"):
                continue
            try:
                good.append(self._entry(fn))
            except (OSError, ValueError, RecursionError) as exc:
                if fn not in self._skipped:
                    bad.append(f"{fn} ({getattr(exc, 'strerror', None) or exc})")
                    self._skipped.add(fn)
        if bad:
            self._warn(
                f"skipped {len(bad)} file(s) in the run store {self.path!r} that are not readable nbtrain "
                f"entries: {'; '.join(bad)[:600]}. Other stored runs are listed."
            )
        return sorted(good, key=lambda e: (e["time"], e["id"]))

    def _entry(self, fn: str) -> dict:
        if not fn.endswith(".json"):
            raise ValueError("not an nbtrain store file")
        full = os.path.join(self.path, fn)
        st = os.stat(full)
        cached = self._cache.get(fn)
        if cached and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        if st.st_size > _MAX_ENTRY:
            raise ValueError("implausibly large")
        with open(full, "rb") as f:
            entry = _check_entry(json.loads(f.read()), fn)
        entry["id"] = fn[: -len(".json")]
        self._cache[fn] = (st.st_mtime_ns, st.st_size, entry)
        return entry

    def file(self, entry: dict) -> str | None:
        """The path of an entry's run file, or None when only its history could be kept."""
        return None if entry.get("file") is None else os.path.join(self.path, entry["file"])
