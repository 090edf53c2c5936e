"""Fixtures for the tuning tests: small real data, and a real IPython shell whose cells raise."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


@pytest.fixture(scope="session")
def small_digits(digits):
    """600 rows of digits: a sweep trial of a few epochs takes a fraction of a second."""
    X, y = digits
    idx = np.random.default_rng(0).permutation(len(X))[:600]
    return X[idx], y[idx]


class Shell:
    """A real IPython shell: ``run(cell)`` re-raises the cell's error, like the magics tests' shell."""

    def __init__(self, ip):
        self.ip = ip

    @property
    def ns(self):
        return self.ip.user_ns

    def run(self, cell: str):
        result = self.ip.run_cell(cell, store_history=True)
        result.raise_error()
        return result.result


@pytest.fixture
def shell(one_thread):
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbtrain")
    ip.run_line_magic("config", "NbtrainMagics.display = 'none'")
    ip.run_cell("import nbtrain\nfrom sklearn.datasets import load_digits")
    yield Shell(ip)
    ip.run_line_magic("unload_ext", "nbtrain")
    ip.config.pop("NbtrainMagics", None)
    for k in [k for k in ip.user_ns if not k.startswith("_") and k not in ip.user_ns_hidden]:
        del ip.user_ns[k]
