"""Small runs for the logger tests: iris, a few epochs, no display."""

from __future__ import annotations

import nbtrain
from nbtrain import Callback


def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def quick(**kw):
    """A 4-epoch iris run (completed), evaluated on its test split when ``evaluate`` is true."""
    evaluate = kw.pop("evaluate", True)
    opts = dict(model="mlp(8)", preprocess="standardize", epochs=4, display="none", name="iris")
    opts.update(kw)
    run = nbtrain.train(iris(), **opts)
    if evaluate:
        run.evaluate()
    return run


class StopAt(Callback):
    """Asks the run to stop after epoch ``epoch`` (as the Stop button would)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, run, epoch, logs, **kwargs):
        if epoch == self.epoch:
            run.request_stop("stop requested by the test")
