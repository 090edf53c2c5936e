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


@pytest.fixture(autouse=True)
def _temp_store(tmp_path_factory):
    """Each test keeps its runs in a fresh temporary run store, never in the checkout's .nbtrain/."""
    import nbtrain

    saved = nbtrain.runs._setting
    path = tmp_path_factory.mktemp("store")
    nbtrain.configure(store=path)
    yield path
    nbtrain.runs.use_store(saved)


@pytest.fixture
def one_thread():
    """Tiny tensors: one intra-op thread is faster (and repeatable) on a busy 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
