"""Nothing that the tests or the notebooks under nbval train is written into this checkout.

Kernels and subprocesses that tests start inherit ``NBTRAIN_STORE``, a temporary run store (tests in
this process use one per test: ``tests/conftest.py``).  Each notebook under nbval gets a fresh one,
so one notebook's ``%runs`` never lists another notebook's runs, and the environment of
``scripts/notebook_env.py`` (every library on the CPU's baseline code path), the one the saved outputs
were computed in, so their numbers match on any x86-64 machine.
"""

import os
import shutil
import tempfile

import pytest

from scripts.notebook_env import baseline_env

_BASE = tempfile.mkdtemp(prefix="nbtrain-test-stores-")
os.environ["NBTRAIN_STORE"] = os.path.join(_BASE, "session")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    notebook = item.parent
    if type(item).__name__ == "IPyNbCell" and getattr(notebook, "kernel", None) is None:
        # nbval starts a notebook's kernel when its first cell is set up, with this environment
        os.environ["NBTRAIN_STORE"] = tempfile.mkdtemp(prefix="notebook-", dir=_BASE)
        with baseline_env():
            yield
    else:
        yield


def pytest_unconfigure(config):
    shutil.rmtree(_BASE, ignore_errors=True)
