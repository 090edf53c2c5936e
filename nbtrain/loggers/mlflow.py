"""MLflow: a run as an MLflow run, written with MLflow's own client (``MlflowClient``).

Settings become parameters, every epoch's history row one ``log_batch`` of metrics (step = epoch),
``run.evaluate()`` adds ``test_<metric>``, the end sets the MLflow status (FINISHED, KILLED for a
stopped run, FAILED with the reason in the tag ``nbtrain.status``) and uploads the saved run file as
an artifact.  A run named ``<group>/<part>`` (a sweep's trial, a cross-validation fold) is nested
under a parent MLflow run named ``<group>``.

The writes happen on one background thread, in order, at most one every ``flush_secs`` seconds (the
epochs since the last write in one ``log_batch``): training never waits for the tracking server,
except at the run's end, for at most ``timeout`` seconds.  A server that cannot be reached
gives one warning and the run goes on.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request

from ..core.errors import quote
from .base import Logger, numbers, outcome, require, settings

_STATUS = {"completed": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}
_PARENTS: dict = {}  # (tracking uri, experiment id, group) -> the parent MLflow run made in this process
_PARAM_MAX = 500  # MLflow's smallest limit on a parameter's value among supported versions


class _Worker:
    """One daemon thread running queued writes in order; the first error stops it and is kept."""

    def __init__(self):
        self.q: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="nbtrain-mlflow", daemon=True)
        self.thread.start()

    def put(self, fn, *args) -> None:
        self.q.put((fn, args))

    def _loop(self) -> None:
        while True:
            item = self.q.get()
            try:
                if item is None:
                    return
                if self.error is None:
                    fn, args = item
                    fn(*args)
            except Exception as exc:
                self.error = exc
            finally:
                self.q.task_done()

    def drain(self, timeout: float) -> bool:
        """Wait until every queued write ran (True), or ``timeout`` seconds passed (False)."""
        end = time.monotonic() + timeout
        with self.q.all_tasks_done:
            while self.q.unfinished_tasks:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.q.all_tasks_done.wait(left)
        return True

    def stop(self) -> None:
        self.q.put(None)


class MLflow(Logger):
    """Log runs to MLflow.  ``tracking_uri``: a server (``http://host:5000``), a database
    (``sqlite:///mlflow.db``) or a folder; None: MLflow's own default (``MLFLOW_TRACKING_URI``).
    ``experiment``: its name, created when missing; None: ``MLFLOW_EXPERIMENT_NAME``, else MLflow's
    ``Default``.  Needs ``pip install 'nbtrain[mlflow]'``.

    >>> nbtrain.train(data, callbacks=[MLflow("sqlite:///mlflow.db", experiment="iris")])   # doctest: +SKIP
    """

    what = "MLflow"

    def __init__(self, tracking_uri=None, experiment=None, timeout: float = 30.0, flush_secs: float = 2.0):
        super().__init__()
        require("mlflow", "mlflow", "MLflow logging")
        self.tracking_uri = None if tracking_uri is None else os.fspath(tracking_uri)
        self.experiment = experiment
        self.timeout = float(timeout)
        self.flush_secs = float(flush_secs)
        self._pending: list = []  # (values, step) of epochs not sent yet
        self._sent = 0.0
        self.run_ids: dict = {}  # nbtrain run name -> MLflow run id (the latest run of that name)
        self._client = None
        self._worker: _Worker | None = None
        self._box: dict = {"id": None}
        self._folder: str | None = None  # the run file's temporary copy, until it is uploaded

    # ------------------------------------------------------------------ in the background thread
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def uri(self) -> str:
        import mlflow

        return self.tracking_uri or mlflow.get_tracking_uri()

    def _probe(self) -> None:
        """A server that is down fails here in milliseconds, not after MLflow's minutes of retries."""
        uri = self.uri()
        if uri.startswith(("http://", "https://")):
            try:
                with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5):
                    pass
            except urllib.error.HTTPError:
                pass  # it answered (a hosted service may have no /health page, or want a login): reachable
            except OSError as exc:
                raise ConnectionError(f"the MLflow tracking server {uri} cannot be reached ({exc})") from None

    def _experiment_id(self) -> str:
        c = self.client()
        name = self.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        if name is None and os.environ.get("MLFLOW_EXPERIMENT_ID"):
            return os.environ["MLFLOW_EXPERIMENT_ID"]
        name = name or "Default"
        found = c.get_experiment_by_name(name)
        return found.experiment_id if found is not None else c.create_experiment(name)

    def _parent(self, exp: str, group: str) -> str:
        key = (self.uri(), exp, group)
        if key not in _PARENTS:
            run = self.client().create_run(exp, run_name=group, tags={"nbtrain.group": "true"})
            _PARENTS[key] = run.info.run_id
        return _PARENTS[key]

    def _create(self, name: str, params: dict, box: dict) -> None:
        from mlflow.entities import Param

        self._probe()
        c = self.client()
        exp = self._experiment_id()
        tags = {"nbtrain.name": name}
        if "/" in name:
            tags["mlflow.parentRunId"] = self._parent(exp, name.rsplit("/", 1)[0])
        run = c.create_run(exp, run_name=name.rsplit("/", 1)[-1] if "/" in name else name, tags=tags)
        box["id"] = run.info.run_id
        c.log_batch(box["id"], params=[Param(k, str(v)[:_PARAM_MAX]) for k, v in params.items()])

    def _metrics(self, box: dict, rows: list) -> None:
        """One ``log_batch`` for the rows ``[(values, step, ms), ...]`` (MLflow takes 1000 metrics a call)."""
        from mlflow.entities import Metric

        metrics = [Metric(k, v, ms, step) for values, step, ms in rows for k, v in values.items()]
        for i in range(0, len(metrics), 1000):
            self.client().log_batch(box["id"], metrics=metrics[i : i + 1000])

    def _finish(self, box: dict, name: str, status: str, words: str, folder: str | None) -> None:
        c = self.client()
        c.set_tag(box["id"], "nbtrain.status", words[:5000])
        try:
            if folder is not None:
                for fn in os.listdir(folder):
                    c.log_artifact(box["id"], os.path.join(folder, fn))
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        c.set_terminated(box["id"], _STATUS.get(status, "FINISHED"))
        parent = c.get_run(box["id"]).data.tags.get("mlflow.parentRunId")
        if parent is not None:
            c.set_terminated(parent, "FINISHED")  # the group ends with its latest part

    # ------------------------------------------------------------------ on the training thread
    def _queue(self, fn, *args) -> None:
        if self._broken is not None:  # it failed for this run: no new thread, no more writes
            return
        worker = self._worker
        if worker is not None and worker.error is not None:  # an earlier write failed: warn once, stop
            self._worker = None
            worker.stop()
            self._fail(worker.error)
            return
        if worker is None:
            worker = self._worker = _Worker()
        worker.put(fn, *args)

    def _wait(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        done = worker.drain(self.timeout)
        worker.stop()
        if worker.error is not None:
            if self._folder is not None:  # the upload never ran: its temporary copy goes
                shutil.rmtree(self._folder, ignore_errors=True)
            self._fail(worker.error)
        elif not done:
            self._fail(f"the MLflow tracking server did not answer within {self.timeout:g} s")

    def start(self, run) -> None:
        self._box = {"id": None}
        self._pending, self._sent = [], time.monotonic()
        self._queue(self._create, run.name, settings(run.config), self._box)

    def epoch(self, run, epoch: int, logs: dict) -> None:
        self._pending.append((numbers(logs), epoch, int(time.time() * 1000)))
        if time.monotonic() - self._sent >= self.flush_secs:
            self._flush()

    def _flush(self) -> None:
        """Hand the epochs not sent yet to the background thread: one write, at most every
        ``flush_secs`` (each write is Python work that competes with the training loop)."""
        if self._pending:
            rows, self._pending = self._pending, []
            self._queue(self._metrics, self._box, rows)
        self._sent = time.monotonic()

    def end(self, run, status: str) -> None:
        self._flush()
        self._folder = None
        if self._broken is None:
            self._folder = _saved(run)
            self._queue(self._finish, self._box, run.name, status, outcome(run, status), self._folder)
        self._wait()
        if self._box.get("id") is not None:
            self.run_ids[run.name] = self._box["id"]

    def evaluated(self, run, metrics: dict) -> None:
        box = {"id": self.run_ids.get(run.name)}
        if box["id"] is None:
            return
        self._queue(self._metrics, box, [(metrics, len(run.history), int(time.time() * 1000))])
        self._wait()


def _saved(run) -> str | None:
    """The run file, saved now (the weights at the end) into a temporary folder the upload removes."""
    folder = tempfile.mkdtemp(prefix="nbtrain-mlflow-")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run.name)
    try:
        if hasattr(run, "save"):
            run.save(os.path.join(folder, safe + ".nbtrain"))
        elif getattr(run, "file", None):  # a stored run (nbtrain.runs.export): its run file as it is
            shutil.copyfile(run.file, os.path.join(folder, safe + ".nbtrain"))
        else:
            shutil.rmtree(folder, ignore_errors=True)
            return None
    except Exception as exc:  # e.g. preprocessing skops cannot store: the metrics are still logged
        with open(os.path.join(folder, "unsaved.txt"), "w") as f:
            f.write(f"the run file could not be saved: {quote(exc)}\n")
    return folder
