"""The Optuna side of a sweep: storage, study, sampler, pruner, and the trial budget shared by workers.

Optuna is imported here, lazily: ``import nbtrain`` never pulls it in, and without it a sweep is one
clear error (``pip install nbtrain[tune]``).

Several processes (or machines sharing a file system) can work on one study: ``storage=PATH`` is
Optuna's journal file (any name) or SQLite (``.db``, ``.sqlite``, ``.sqlite3`` or a ``sqlite:///``
URL).  Each worker asks for its next trial under a file lock (Optuna's own ``JournalFileOpenLock``,
which works on NFS), after counting the trials finished or running: so the workers together run the
requested number of trials, never more, and each trial number (and, for the grid, each grid point)
once.
"""

from __future__ import annotations

import contextlib
import os
import socket

from ..errors import ConfigError, NbtrainError

SAMPLERS = ("tpe", "random", "grid")
_SQLITE = (".db", ".sqlite", ".sqlite3")


class MissingOptunaError(NbtrainError, ImportError):
    """Sweeps need Optuna (the ``tune`` extra)."""


def optuna():
    """The optuna module, or one clear error saying how to install it."""
    try:
        import optuna as _optuna
    except ImportError:
        raise MissingOptunaError(
            "sweeps need Optuna, which is not installed: pip install 'nbtrain[tune]' (or pip install optuna)."
        ) from None
    return _optuna


def storage_for(path):
    """``(storage, lock)`` for ``path`` (None: in memory, no lock).  Raises ConfigError when it cannot be written."""
    if path is None:
        return None, contextlib.nullcontext()
    text = os.fspath(path)
    url = text if text.startswith("sqlite:///") else None
    file = os.path.abspath(text[len("sqlite:///") :] if url else text)
    folder = os.path.dirname(file)
    problem = None
    if os.path.isdir(file):
        problem = "it is a folder"
    elif not os.path.isdir(folder):
        problem = f"the folder {folder!r} does not exist"
    else:
        try:
            with open(file, "ab"):
                pass  # an empty file is a valid (empty) journal and a valid (empty) SQLite database
        except OSError as exc:
            problem = exc.strerror or type(exc).__name__
    if problem:
        raise ConfigError(f"storage {text!r} cannot be written ({problem}); give a file path in a writable folder.")
    op = optuna()
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

    lock = _FileLock(JournalFileOpenLock(file + ".nbtrain"))
    with lock:  # two workers creating one new SQLite file at once would both write its schema
        if url or file.endswith(_SQLITE):
            storage = op.storages.RDBStorage(
                url or f"sqlite:///{file}", engine_kwargs={"connect_args": {"timeout": 60}}
            )  # several writers: wait for SQLite's lock instead of failing
        else:
            storage = JournalStorage(JournalFileBackend(file))
    return storage, lock


class _FileLock:
    """A context manager over an Optuna journal lock (O_EXCL lock files, safe on NFS)."""

    def __init__(self, lock):
        self.lock = lock

    def __enter__(self):
        self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release()


def sampler_for(kind: str, seed: int, grid: dict | None = None):
    """Optuna's TPE, random or grid sampler, seeded."""
    op = optuna()
    if kind == "tpe":
        return op.samplers.TPESampler(seed=seed)
    if kind == "random":
        return op.samplers.RandomSampler(seed=seed)

    class Grid(op.samplers.GridSampler):
        def after_trial(self, study, trial, state, values):
            pass  # the sweep checks is_exhausted before each ask; Study.stop() works only inside optimize()

    return Grid(grid, seed=seed)


def pruner_for(prune):
    """``True``: Optuna's MedianPruner with its defaults; ``False``/None: no pruning; a pruner: itself."""
    op = optuna()
    if prune is None or prune is False:
        return op.pruners.NopPruner()
    if prune is True:
        return op.pruners.MedianPruner()
    if isinstance(prune, op.pruners.BasePruner):
        return prune
    raise ConfigError(f"prune must be True, False or an optuna pruner, got {prune!r:.80}.")


def open_study(name: str, storage, direction: str, pruner):
    """Create the study, or load it from the storage (a second worker, or a sweep run again to go on)."""
    op = optuna()
    study = op.create_study(
        study_name=name, storage=storage, direction=direction, pruner=pruner, load_if_exists=storage is not None
    )
    have = study.direction.name.lower()
    if have != direction:
        raise ConfigError(
            f"the study {name!r} in this storage is set to {have} and this sweep would {direction}; "
            "use the same --metric, or another --name."
        )
    return study


def counted(study) -> int:
    """Trials that use up the budget: finished (completed, pruned, failed) or running.  A trial
    ended by the user is not counted: it is queued again, so a sweep run again goes on with it."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.WAITING or t.user_attrs.get("nbtrain_status") == "stopped":
            continue
        n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphans(study) -> None:
    """Trials left running by a process of this machine that no longer exists (a kernel that died or
    was restarted) are marked failed and queued again."""
    from optuna.trial import Trial, TrialState

    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("nbtrain_pid")
        if t.user_attrs.get("nbtrain_host") == host and isinstance(pid, int) and not _alive(pid):
            requeue(study, Trial(study, t._trial_id), "its process ended before it finished")


def requeue(study, trial, reason: str) -> None:
    """End the running ``trial`` as failed, marked "stopped" (not counted in the budget), and queue its
    parameters again (for the grid, with its grid point): the sweep, run again, evaluates them first."""
    from optuna.trial import TrialState, create_trial

    mark(trial, status="stopped", reason=reason)
    frozen = study._storage.get_trial(trial._trial_id)  # the grid point lives in the system attributes
    study.tell(trial, state=TrialState.FAIL)
    system = {"fixed_params": dict(frozen.params)}
    system.update({k: frozen.system_attrs[k] for k in ("grid_id", "search_space") if k in frozen.system_attrs})
    retry = create_trial(state=TrialState.WAITING, system_attrs=system, user_attrs={"nbtrain_retry_of": frozen.number})
    study.add_trial(retry)


def mark(trial, **attrs) -> None:
    """Set ``nbtrain_<key>`` user attributes on a trial (what the leaderboard reads)."""
    for k, v in attrs.items():
        trial.set_user_attr(f"nbtrain_{k}", v)


def ask(study, lock, kind: str, seed: int, grid: dict | None, n_trials: int):
    """The next trial, or None when the budget is used up or the grid is exhausted.

    TPE and random are seeded with ``seed`` plus the number of trials already in the study: the same
    sweep repeats, and two workers asking one after the other never draw the same random start.
    """
    with lock:
        fail_orphans(study)
        if counted(study) >= n_trials:
            return None
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        # the grid sampler shuffles its points with its seed: every worker and trial must use the same
        study.sampler = sampler_for(kind, seed if kind == "grid" else seed + len(trials), grid)
        waiting = any(t.state == TrialState.WAITING for t in trials)  # a trial queued again goes first
        if kind == "grid" and not waiting and study.sampler.is_exhausted(study):
            return None
        trial = study.ask()
        mark(trial, host=socket.gethostname(), pid=os.getpid())
        return trial
