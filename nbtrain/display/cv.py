"""What a cross-validation shows: one row a fold and the mean ± standard deviation, then every fold's
loss curves in one chart.  Works on any object with ``.name``, ``.runs``, ``.scores``, ``.folds`` and
``.summary()`` (``nbtrain.cv.CrossValidation``); display code never imports the API.

>>> cv_view(cv).table          # doctest: +SKIP
"""

from __future__ import annotations

import math

from .evaluation import FigureDisplay, Table, _show, loss_curves_figure
from .format import format_value


class CVView:
    """The table and the figure; the figure is drawn when first shown (a repr needs only the table)."""

    def __init__(self, table: Table, runs: list, title: str):
        self.table, self._runs, self._title = table, runs, title
        self._figure = None

    @property
    def figure(self) -> FigureDisplay:
        if self._figure is None:
            fig = loss_curves_figure(self._runs, title=self._title)
            self._figure = FigureDisplay(fig, self._title)
        return self._figure

    def _ipython_display_(self):
        _show(self.table, self.figure)


def cv_view(cv) -> CVView:
    metrics = list(dict.fromkeys(k for s in cv.scores for k in s))
    columns = ["fold", "status", "train rows", "held out", *metrics]
    rows = []
    for i, (run, score, (tr, te)) in enumerate(zip(cv.runs, cv.scores, cv.folds), start=1):
        rows.append([f"fold{i}", run.status, len(tr), len(te), *[score.get(m, "") for m in metrics]])
    summary = cv.summary()
    cells = []
    for m in metrics:
        s = summary.get(m, {})
        mean, std = s.get("mean", math.nan), s.get("std", math.nan)
        cells.append(f"{format_value(mean)} ± {format_value(std)}")
    rows.append(["mean ± std", "", "", "", *cells])
    k = len(cv.runs)
    table = Table(columns, rows, title=f"cross-validation {cv.name}: {k} folds, scored on each held-out fold")
    return CVView(table, list(cv.runs), f"loss of every fold of {cv.name}")
