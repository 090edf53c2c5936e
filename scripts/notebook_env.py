"""The two environments of the tutorial notebooks: the one that writes their saved outputs, and the
one that checks them under strict nbval, on purpose a different one.

Strict nbval compares every output a notebook shows with the one saved in it.  Seeds and one thread
make a run repeat on one machine, but not across machines: PyTorch, MKL, oneDNN, NumPy and OpenBLAS
each pick kernels for the CPU they find (AVX2, AVX-512, NEON on an ARM Mac, ...), those kernels round
differently, and ten epochs of training turn a last-bit difference into a different fourth digit.  No
pinning makes that portable (an ARM machine has no x86 kernels to pin to), so the notebooks are
written to be portable instead (``docs/reports.md``): exact training digits are shown in cells tagged
``nbval-ignore-output``, and the facts the lesson states are checked with tolerances in the cells
after them.  These two environments keep that honest:

- :func:`write_env` (``scripts/execute_notebooks.py``): every library on its baseline code path
  (:data:`BASELINE`), so the saved outputs do not depend on the CPU of whoever re-executed them: a
  re-execution on another machine gives the same saved numbers, and a diff shows only real changes.
- :func:`check_env` (``conftest.py``, the kernel nbval starts for each notebook in ``make test``):
  no pinning, and PyTorch on another kernel family than the writer's (:func:`check_capability`), so
  every ``make test`` proves that the saved notebooks validate on a machine whose kernels round
  differently.  ``NBTRAIN_CHECK_CPU_CAPABILITY`` picks another one (``default``, ``avx2``,
  ``avx512``, ``native`` for the CPU's own choice, or ``pinned``: :func:`write_env` itself).

Nothing in nbtrain reads these; a user's own runs keep the fastest kernels.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
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
# every variable that pins a library's code path (BASELINE's and NumPy's dispatch)
PINS = (*BASELINE, "NPY_DISABLE_CPU_FEATURES")
CHECK_OVERRIDE = "NBTRAIN_CHECK_CPU_CAPABILITY"


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


def write_env(**extra: str):
    """A context in which ``os.environ`` holds :data:`BASELINE`, NumPy's dispatch turned off, and
    ``extra`` (start a kernel in it); ``os.environ`` is as before afterwards."""
    values = dict(BASELINE, **extra)
    dispatch = numpy_dispatch()
    if dispatch:
        values["NPY_DISABLE_CPU_FEATURES"] = dispatch
    return mock.patch.dict(os.environ, values)


def check_capability() -> str | None:
    """The PyTorch kernel family (``ATEN_CPU_CAPABILITY``) nbval's kernels run: ``avx2`` on an x86-64
    CPU that has it (the writer's is ``default``), else None: the CPU's own choice (NEON/SVE on ARM),
    which differs from the writer's ``default`` wherever the CPU has vector kernels at all."""
    chosen = os.environ.get(CHECK_OVERRIDE)
    if chosen:
        return None if chosen == "native" else chosen
    import torch

    return "avx2" if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") else None


@contextmanager
def check_env(**extra: str):
    """A context in which ``os.environ`` has none of the pins (:data:`PINS`), PyTorch on
    :func:`check_capability`'s kernels, and ``extra``; ``os.environ`` is as before afterwards."""
    if os.environ.get(CHECK_OVERRIDE) == "pinned":  # the writer's own environment (a determinism check)
        with write_env(**extra):
            yield
        return
    with mock.patch.dict(os.environ, extra):
        for name in PINS:
            os.environ.pop(name, None)
        capability = check_capability()
        if capability:
            os.environ["ATEN_CPU_CAPABILITY"] = capability
        yield
