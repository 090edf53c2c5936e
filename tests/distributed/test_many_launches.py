"""20 launches in a row under a watchdog: catches the end-of-training hang (destroying the process
group while DDP lives), leaked ranks and leaked ports."""

import faulthandler
import sys
import time

import numpy as np
import pytest
import torch
from dist_helpers import alive, listening

import nbtrain

# the watchdog: pytest-timeout ends a hung launch (the launcher then kills its ranks), and
# faulthandler prints every thread's stack first so a hang shows where it is
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_twenty_launches_in_a_row_never_hang():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    torch.randn(256, 256) @ torch.randn(256, 256)  # a parallel op in the parent before forking
    faulthandler.dump_traceback_later(110, exit=False, file=sys.stderr)
    t0 = time.monotonic()
    pids = []
    try:
        for i in range(20):
            run = nbtrain.train((X, y), epochs=2, batch_size=4, processes=2, display="none", name=f"r{i}")
            info = run._distributed
            assert run.status == "completed", (i, run.status, run.error)
            # a rank still alive 5 s after rank 0 reported the result is the end-of-training hang
            assert not info["late_exit"], f"launch {i}: a rank did not exit after training"
            assert not any(alive(p) for p in info["pids"]), i
            assert not listening(info["store_port"]), i
            pids += info["pids"]
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert len(set(pids)) == 40 and not any(alive(p) for p in pids)
    print(f"20 launches in {time.monotonic() - t0:.1f} s")
