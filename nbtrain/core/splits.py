"""Splits: seeded, and stratified for in-memory classification; a Dataset is split by ``Subset``
indices, never a copy of its samples.  The stage after the labels, before preprocessing.

>>> train, test = split(table, 0.2, seed=0, stratify=True, what="test")       # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import ConfigError


def part_size(n: int, fraction: float, what: str) -> int:
    """Rows in a split of ``fraction`` of ``n``; both sides must keep at least one row."""
    n_part = int(round(fraction * n))
    if n_part == 0:
        raise ConfigError(f"{what}={fraction} of {n} rows is no rows; use a larger fraction or give {what}_data.")
    if n - n_part < 1:
        raise ConfigError(f"{what}={fraction} leaves no training rows out of {n}; use a smaller fraction.")
    return n_part


def split(table, fraction: float, seed: int, stratify: bool, what: str):
    """Split off ``fraction`` of the rows (stratified for classification).  Returns (rest, part)."""
    from sklearn.model_selection import train_test_split

    n = len(table)
    n_part = part_size(n, fraction, what)
    idx = np.arange(n)
    strat = table.y if stratify else None
    if strat is not None:
        _, counts = np.unique(strat, return_counts=True)
        n_classes = len(counts)
        if counts.min() < 2 or n_part < n_classes or n - n_part < n_classes:
            strat = None  # too few rows per class to stratify: fall back to a plain seeded split
    rest, part = train_test_split(idx, test_size=n_part, random_state=seed, shuffle=True, stratify=strat)
    return table.take(np.sort(rest)), table.take(np.sort(part))


def split_dataset(dataset, fraction: float, seed: int, what: str):
    """Seeded ``(rest, part)`` Subsets: indices, never copies of the samples."""
    n = len(dataset)
    n_part = part_size(n, fraction, what)
    g = torch.Generator().manual_seed(seed)
    rest, part = torch.utils.data.random_split(dataset, [n - n_part, n_part], generator=g)
    return rest, part
