"""Things to explore in the lessons (notebooks 02-07, 11): small ipywidgets panels whose figure and
numbers redraw when a control moves.

Each panel is an :class:`Explorer`: controls, then a PNG figure and a table of numbers shown as
ordinary outputs with display ids, so a notebook executed headless (nbconvert, nbval) saves the
default state as plain outputs and a moved control replaces them in place.  The computations are
plain functions (tested in ``tests/lessons``) in ``data_panels`` (02, 03), ``training_panels``
(04, 05) and ``results_panels`` (06, 07) and ``text_panels`` (11); the ``*_explorer`` builders wire them to controls.
"""

from __future__ import annotations

from .data_panels import boundary_explorer, leakage_explorer, preprocessing_explorer
from .explorer import Explorer, Summary
from .results_panels import threshold_explorer, throughput_explorer
from .text_panels import tokenizer_explorer
from .training_panels import loss_explorer, optimizer_explorer

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
    "tokenizer_explorer",
]
