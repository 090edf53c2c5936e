import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Each test starts with an empty nbtrain.runs."""
    import nbtrain
    saved = dict(nbtrain.runs)
    nbtrain.runs.clear()
    yield
    nbtrain.runs.clear()
    nbtrain.runs.update(saved)
