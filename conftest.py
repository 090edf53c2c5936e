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


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """``make test`` runs on every core (pytest-xdist, ``-n auto --dist loadfile``).  Each worker gets
    whole files: a notebook's cells run on one worker, in order, in one kernel, and a file's module
    fixtures (a kernel, a store) start once.  All of tests/browser/ goes to one worker: one JupyterLab
    server and one Chromium for the session, not one per worker.  (A scheduler rather than xdist_group
    marks: pytest-xdist 3.8's loadgroup cannot rename the items of pytest 9, and silently splits them.)"""
    from xdist.scheduler import LoadFileScheduling

    class FilesAndBrowser(LoadFileScheduling):
        def _split_scope(self, nodeid):
            scope = super()._split_scope(nodeid)
            return "tests/browser/" if scope.startswith("tests/browser/") else scope

    return FilesAndBrowser(config, log)


def pytest_unconfigure(config):
    shutil.rmtree(_BASE, ignore_errors=True)
