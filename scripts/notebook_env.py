"""The environment the tutorial notebooks are executed and checked in: every library on the CPU's
baseline code path, so that their numbers are the same on any x86-64 machine.

Strict nbval compares every number a notebook shows with the one saved in it. Seeds and one thread
make a run repeat on one machine, but not across machines: PyTorch, MKL, oneDNN, NumPy and OpenBLAS
each pick kernels for the CPU they find (AVX2, AVX-512, AVX-512 BF16, ...), those kernels round
differently, and ten epochs of training turn a last-bit difference into a different fourth digit.
Notebooks executed on one machine failed nbval on another, an AVX2 one (0.15746 against 0.15741 in
07, 0.9721 against 0.9749 in 03's CNN). Pinned to the baseline, every machine runs the same kernels.

Used by ``conftest.py`` (the kernel nbval starts for each notebook) and by
``scripts/execute_notebooks.py`` (the kernel that writes the saved outputs). Nothing in nbtrain reads
these; a user's own runs keep the fastest kernels.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from unittest import mock

BASELINE = {
    # PyTorch's own vectorised kernels (and its random number generators): the generic build
    "ATEN_CPU_CAPABILITY": "default",
    # Intel MKL (PyTorch's float32 matmul on CPU): Conditional Numerical Reproducibility, one code path
    "MKL_CBWR": "COMPATIBLE",
    # oneDNN (convolutions, bf16 matmul under autocast): no AVX, AVX-512 or native bf16 kernels
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    # OpenBLAS inside NumPy and SciPy (scikit-learn's PCA, linear models): one kernel family
    "OPENBLAS_CORETYPE": "Nehalem",
}


def numpy_dispatch() -> str | None:
    """What NumPy's SIMD dispatch may pick beyond its build's baseline (exp, log, sort, ...), as
    ``NPY_DISABLE_CPU_FEATURES`` takes it; the names change between NumPy versions, so they are read
    from the installed build, which refuses (with a warning) any name that it does not dispatch."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # NumPy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_dispatch__
        except ImportError:
            return None
    return " ".join(__cpu_dispatch__) or None


def baseline_env(**extra: str) -> AbstractContextManager:
    """A context in which ``os.environ`` holds :data:`BASELINE`, NumPy's dispatch turned off, and
    ``extra`` (start a kernel in it); ``os.environ`` is as before afterwards."""
    values = dict(BASELINE, **extra)
    dispatch = numpy_dispatch()
    if dispatch:
        values["NPY_DISABLE_CPU_FEATURES"] = dispatch
    return mock.patch.dict(os.environ, values)
