"""A testing shell: a real IPython ``InteractiveShell`` whose cells raise their errors (jupysql style)."""

import pytest


class TestingShell:
    """``run(cell)`` runs a cell like a user would and re-raises the cell's error, if any."""

    def __init__(self, ip):
        self.ip = ip

    @property
    def ns(self) -> dict:
        return self.ip.user_ns

    def run(self, cell: str):
        result = self.ip.run_cell(cell, store_history=True)
        result.raise_error()
        return result.result

    def capture(self, cell: str):
        """Run a cell; return (result, outputs) where outputs are the display bundles (dicts) it showed."""
        from IPython.utils.capture import capture_output

        with capture_output() as cap:
            res = self.run(cell)
        return res, [o.data for o in cap.outputs]


def _clear(ip):
    # cheaper than ip.reset() (which runs gc.collect with torch loaded): drop the user's names
    for k in list(ip.user_ns):
        if k not in ip.user_ns_hidden and not k.startswith("_"):
            del ip.user_ns[k]


@pytest.fixture(scope="session")
def _ipython():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


@pytest.fixture
def shell(_ipython):
    """A fresh namespace with ``%load_ext nbtrain`` done and no live display (display = 'none')."""
    ip = _ipython
    _clear(ip)
    ip.config.pop("NbtrainMagics", None)
    ip.run_line_magic("load_ext", "nbtrain")
    ip.run_line_magic("config", "NbtrainMagics.display = 'none'")
    ip.run_cell("import torch; torch.set_num_threads(1)")
    yield TestingShell(ip)
    ip.run_line_magic("unload_ext", "nbtrain")
    ip.config.pop("NbtrainMagics", None)
    _clear(ip)
