"""TensorBoard: every epoch's history row as scalars, the settings in the HPARAMS tab and as text, the
test metrics and the final status, written with TensorBoard's own writer (``SummaryWriter``).

>>> run = nbtrain.train(data, log="tensorboard")          # doctest: +SKIP
>>> # then: tensorboard --logdir runs
"""

from __future__ import annotations

import os

from .base import Logger, fill, numbers, outcome, require, settings


class TensorBoard(Logger):
    """Write a run to TensorBoard event files in ``log_dir`` (default ``runs/<name>``; ``{name}`` in
    ``log_dir`` is the run's name, so a sweep's trials and cross-validation's folds get their own
    folders, ``runs/sweep1/0``, ``runs/iris/fold1``).  Needs ``pip install 'nbtrain[tensorboard]'``.

    Scalars are tagged with the history's column names (``train_loss``, ``val_loss``,
    ``val_accuracy``, ``lr``, ``time``) at step = epoch; ``run.evaluate()`` adds ``test_<metric>``
    at the last epoch; the status ends up as the text ``status``.

    >>> nbtrain.train(data, callbacks=[TensorBoard("tb/{name}")])       # doctest: +SKIP
    """

    what = "TensorBoard"

    def __init__(self, log_dir=None):
        super().__init__()
        require("tensorboard", "tensorboard", "TensorBoard logging")
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self._writer = None
        self._step = 0

    def directory(self, run) -> str:
        if self.log_dir is None:
            return os.path.join("runs", *run.name.split("/"))
        return fill(self.log_dir, run.name) if "{name}" in self.log_dir else self.log_dir

    def _open(self, run):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=self.directory(run), flush_secs=3600)  # we flush once per epoch

    def start(self, run) -> None:
        from torch.utils.tensorboard.summary import hparams

        self.close()
        self._writer = w = self._open(run)
        self._step = len(run.history)
        params = settings(run.config)
        monitor = run.config.get("monitor") or "val_loss"
        # the HPARAMS tab: this run's settings against its monitored metric (written in this folder,
        # not in the timestamped sub-folder SummaryWriter.add_hparams would make)
        for summary in hparams(params, {monitor: float("nan")}):
            w.file_writer.add_summary(summary)
        table = "\n".join(f"| {k} | {v} |" for k, v in params.items())
        w.add_text("settings", f"| setting | value |\n|---|---|\n{table}", global_step=self._step)
        w.flush()

    def epoch(self, run, epoch: int, logs: dict) -> None:
        w = self._writer
        if w is None:
            return
        for key, value in numbers(logs).items():
            w.add_scalar(key, value, global_step=epoch)
        self._step = epoch
        w.flush()  # the one write of the epoch: TensorBoard shows it now

    def evaluated(self, run, metrics: dict) -> None:
        w = self._writer
        if w is None:  # the run ended: a new event file in the same folder
            w = self._writer = self._open(run)
        for key, value in metrics.items():
            w.add_scalar(key, value, global_step=len(run.history) or self._step)
        w.flush()

    def end(self, run, status: str) -> None:
        w = self._writer
        if w is None:
            return
        w.add_text("status", outcome(run, status), global_step=len(run.history))
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def on_evaluate(self, run, on, metrics, **kwargs) -> None:
        super().on_evaluate(run, on, metrics, **kwargs)
        self.close()  # written and closed: no open file per evaluated run
