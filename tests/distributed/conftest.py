import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for dist_helpers.py

if not sys.platform.startswith("linux"):
    collect_ignore_glob = ["test_*.py"]  # fork, /proc and process-group checks are Linux facts


@pytest.fixture(autouse=True)
def _rank_env(monkeypatch):
    """One thread a CPU rank, gloo on loopback (forked ranks inherit this environment)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
