"""Fixtures for the hardening tests: a saved run and a written checkpoint (bytes, built once)."""

import pytest
from hardening_helpers import train_small


@pytest.fixture(scope="session")
def saved_run_bytes(tmp_path_factory):
    """Bytes of a genuine run file (with preprocessing and label classes)."""
    import nbtrain

    path = tmp_path_factory.mktemp("run") / "good.nbtrain"
    run = train_small(name="_hardening_fixture_run")
    run.save(path)
    nbtrain.runs.pop(run.name, None)  # built outside any test: leave the registry as it was
    return path.read_bytes()


@pytest.fixture(scope="session")
def checkpoint_bytes(tmp_path_factory):
    """Bytes of a genuine checkpoint written by train(checkpoint=...)."""
    import nbtrain

    path = tmp_path_factory.mktemp("ck") / "ck.pt"
    run = train_small(checkpoint=str(path), name="_hardening_fixture_ck")
    nbtrain.runs.pop(run.name, None)
    return path.read_bytes()


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every hardening test runs with one intra-op thread (see tests/conftest.py)."""
