"""CSV: the offline common denominator.  Two files a run:

- ``path`` (default ``runs/<name>/history.csv``): one row per epoch, the history's columns;
- beside it, ``<stem>.summary.csv``: ``key,value`` rows: the settings (``lr``, ``model``, ...), then
  ``status`` (``completed``, ``stopped: <why>``, ``failed: <reason>``), then the test metrics once
  ``run.evaluate()`` ran (``test_accuracy``, ...).

>>> run = nbtrain.train(data, callbacks=[nbtrain.loggers.CSV("iris.csv")])   # doctest: +SKIP
>>> pandas.read_csv("iris.csv")                                               # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os

from .base import Logger, fill, outcome, settings


class CSV(Logger):
    """Write a run's history to a CSV file, one row per epoch (appended at each epoch's end).

    ``path`` may contain ``{name}`` (the run's name): one file per run when one logger serves
    several runs (a sweep's trials, cross-validation's folds).  Training a name again rewrites its file.
    """

    what = "CSV"

    def __init__(self, path=None):
        super().__init__()
        self.path = None if path is None else os.fspath(path)
        self._file = None
        self._columns: list = []
        self._summary: dict = {}
        self._summary_run: str | None = None
        self._last = 0

    def file_for(self, run) -> str:
        if self.path is None:
            return os.path.join("runs", *run.name.split("/"), "history.csv")
        return fill(self.path, run.name)

    def summary_file(self, run) -> str:
        stem, _ = os.path.splitext(self.file_for(run))
        return stem + ".summary.csv"

    def start(self, run) -> None:
        self._file = self.file_for(run)
        folder = os.path.dirname(os.path.abspath(self._file))
        os.makedirs(folder, exist_ok=True)
        self._columns = []
        self._summary = dict(settings(run.config))
        self._summary["status"] = "running"
        self._write_summary(run)
        self._rewrite(list(run.history))  # a resumed run's earlier epochs first (none otherwise)

    def _rewrite(self, rows: list) -> None:
        cols: dict = {}
        for r in rows:
            cols.update(dict.fromkeys(r))
        self._columns = list(cols) or []
        self._last = max((int(r.get("epoch", 0)) for r in rows), default=0)
        with open(self._file, "w", newline="") as f:
            if self._columns:
                w = csv.DictWriter(f, fieldnames=self._columns)
                w.writeheader()
                w.writerows(rows)

    def epoch(self, run, epoch: int, logs: dict) -> None:
        if self._file is None:
            return
        row = dict(logs)
        if epoch <= self._last:  # written already (a resumed run's earlier epochs; an exported run)
            return
        self._last = epoch
        if not self._columns or set(row) - set(self._columns):
            self._rewrite(list(run.history))  # new columns (or the first row): the header changes
            return
        with open(self._file, "a", newline="") as f:  # the epoch's one write: one appended line
            csv.DictWriter(f, fieldnames=self._columns).writerow(row)

    def end(self, run, status: str) -> None:
        self._summary["status"] = outcome(run, status)
        self._write_summary(run)

    def evaluated(self, run, metrics: dict) -> None:
        if not self._summary or self._summary_run != run.name:  # a run this logger wrote before another
            self._summary = _read_summary(self.summary_file(run))
        self._summary.update(metrics)
        self._write_summary(run)

    def _write_summary(self, run) -> None:
        self._summary_run = run.name
        path = self.summary_file(run)
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["key", "value"])
            w.writerows(self._summary.items())
        os.replace(tmp, path)


def _read_summary(path: str) -> dict:
    try:
        with open(path, newline="") as f:
            return {r["key"]: r["value"] for r in csv.DictReader(f)}
    except OSError:
        return {}
