"""Nothing that the tests or the notebooks under nbval train is written into this checkout.

Kernels and subprocesses that tests start inherit ``NBTRAIN_STORE``, a temporary run store (tests in
this process use one per test: ``tests/conftest.py``).  Each notebook under nbval gets a fresh one,
so one notebook's ``%runs`` never lists another notebook's runs, and the environment of
``scripts/notebook_env.py``'s :func:`check_env`: no library pinned to a code path, and PyTorch on
another kernel family than the one ``scripts/execute_notebooks.py`` wrote the saved outputs with.  So
every ``make test`` proves that the notebooks validate on a machine whose kernels round differently.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from scripts.notebook_env import check_env

_BASE = tempfile.mkdtemp(prefix="nbtrain-test-stores-")
os.environ["NBTRAIN_STORE"] = os.path.join(_BASE, "session")
# the environment nbval's kernels start in (tests/test_notebooks.py checks it)
NOTEBOOK_KERNEL_ENV = check_env


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    notebook = item.parent
    if type(item).__name__ == "IPyNbCell" and getattr(notebook, "kernel", None) is None:
        # nbval starts a notebook's kernel when its first cell is set up, with this environment
        with NOTEBOOK_KERNEL_ENV(NBTRAIN_STORE=tempfile.mkdtemp(prefix="notebook-", dir=_BASE)):
            yield
    else:
        yield


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """``make test`` runs on every core (``-n auto --dist loadgroup``): the tests of one file stay on
    one worker (module fixtures: a kernel, a store), a notebook's cells on one worker in order (they
    share its kernel), and every browser test on one worker (one JupyterLab server and one Chromium
    for the session, and one apt install of Chromium)."""
    root = Path(__file__).resolve().parent
    for item in items:
        path = Path(str(item.fspath)).resolve()
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            parts = (path.name,)
        group = "browser" if parts[:2] == ("tests", "browser") else "/".join(parts)
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_unconfigure(config):
    shutil.rmtree(_BASE, ignore_errors=True)
