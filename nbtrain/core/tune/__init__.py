"""Tuning: the learning-rate finder and sweeps over search spaces (Optuna, imported only when a sweep runs).

>>> from nbtrain.core.tune import find_lr, loguniform, choice   # doctest: +SKIP
"""

from .finder import LRFinding, find_lr, ramp
from .result import Sweep, TrialRow
from .space import Choice, IntRange, LogUniform, Space, Uniform, choice, find_spaces, intrange, loguniform, uniform
from .study import MissingOptunaError

__all__ = [
    "LRFinding",
    "find_lr",
    "ramp",
    "Sweep",
    "TrialRow",
    "Space",
    "Choice",
    "IntRange",
    "LogUniform",
    "Uniform",
    "choice",
    "intrange",
    "loguniform",
    "uniform",
    "find_spaces",
    "MissingOptunaError",
]
