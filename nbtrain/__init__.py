"""nbtrain: train PyTorch models from a notebook.

>>> import nbtrain
>>> run = nbtrain.train((X, y), model="mlp(64, 64)", preprocess="standardize")   # doctest: +SKIP
>>> run.evaluate()                                                              # doctest: +SKIP

In IPython / Jupyter: ``%load_ext nbtrain`` registers ``%%train``, ``%%lr_find``, ``%%sweep``,
``%evaluate``, ``%predict``, ``%runs`` and ``%compare``.
"""

from .api import attach, configure, load, train
from .core.errors import (
    ConfigError,
    DataError,
    DataTypeError,
    DeviceError,
    NbtrainError,
    PresetError,
    RunFileError,
    ShapeError,
)
from .core.events import Callback
from .core.history import History
from .core.run import Run, runs
from .core.store.runs import StoreWarning
from .core.store.stored import StoredRun
from .cv import cross_validate
from .tuning import choice, intrange, loguniform, lr_find, sweep, uniform

__version__ = "0.1.0"

__all__ = [
    "train",
    "cross_validate",
    "lr_find",
    "sweep",
    "loguniform",
    "uniform",
    "intrange",
    "choice",
    "attach",
    "load",
    "configure",
    "runs",
    "Run",
    "StoredRun",
    "StoreWarning",
    "History",
    "Callback",
    "NbtrainError",
    "ConfigError",
    "DataError",
    "DataTypeError",
    "DeviceError",
    "PresetError",
    "RunFileError",
    "ShapeError",
    "load_ipython_extension",
    "unload_ipython_extension",
    "panel",
]


def _export(to, chosen, **options):
    from .loggers.export import export  # TensorBoard / MLflow are imported only when asked for

    return export(to, chosen, **options)


runs.exporter = _export  # nbtrain.runs.export(...): the core registry is handed the loggers' exporter


def panel(**kwargs):
    """An interactive training builder (ipywidgets): pick data, preprocessing, model, loss, optimizer."""
    from .display.builder import panel as _panel  # widgets are imported only here

    return _panel(train=train, **kwargs)


def load_ipython_extension(ipython):
    from .magics import load_ipython_extension as _load  # IPython is imported only here

    _load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
