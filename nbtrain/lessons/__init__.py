"""Things to explore in the lessons (notebooks 02-07): small ipywidgets panels whose figure and
numbers redraw when a control moves.

Each panel is an :class:`Explorer`: controls, then a PNG figure and a table of numbers shown as
ordinary outputs with display ids, so a notebook executed headless (nbconvert, nbval) saves the
default state as plain outputs and a moved control replaces them in place.  The computations are
plain functions (tested in ``tests/lessons``); the ``*_explorer`` builders wire them to controls.
"""

from __future__ import annotations

from .explorer import Explorer, Summary
from .panels import (
    boundary_explorer,
    leakage_explorer,
    loss_explorer,
    optimizer_explorer,
    preprocessing_explorer,
    threshold_explorer,
    throughput_explorer,
)

__all__ = [
    "Explorer",
    "Summary",
    "boundary_explorer",
    "leakage_explorer",
    "loss_explorer",
    "optimizer_explorer",
    "preprocessing_explorer",
    "threshold_explorer",
    "throughput_explorer",
]
