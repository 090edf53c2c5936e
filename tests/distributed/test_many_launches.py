"""20 launches in a row under a watchdog: catches the end-of-training hang (destroying the process
group while DDP lives), leaked ranks and leaked ports."""
import os
import subprocess
import sys
import textwrap

import pytest

from dist_helpers import RANK_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

SCRIPT = textwrap.dedent("""
    import faulthandler, os, sys, time
    sys.path.insert(0, {here!r})
    import numpy as np, torch, nbtrain
    from dist_helpers import alive, children, listening
    faulthandler.dump_traceback_later({watchdog}, exit=True)  # a hang prints where it is, then exits
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
    torch.randn(256, 256) @ torch.randn(256, 256)   # a parallel op in the parent before forking
    t0 = time.monotonic()
    for i in range(20):
        run = nbtrain.train((X, y), epochs=2, batch_size=4, processes=2, display="none", name=f"r{{i}}")
        info = run._distributed
        assert run.status == "completed", (i, run.status, run.error)
        assert not info["late_exit"], f"launch {{i}}: a rank did not exit after training (end-of-training hang)"
        assert not any(alive(p) for p in info["pids"]), i
        assert not listening(info["store_port"]), i
    assert not children(os.getpid()), children(os.getpid())
    print(f"OK 20 launches in {{time.monotonic() - t0:.1f}} s")
""")


def test_twenty_launches_in_a_row_never_hang(tmp_path):
    script = tmp_path / "launches.py"
    script.write_text(SCRIPT.format(here=os.path.dirname(__file__), watchdog=110))
    proc = subprocess.run([sys.executable, str(script)], env=dict(os.environ, **RANK_ENV), capture_output=True,
                          text=True, timeout=130, cwd=tmp_path)
    assert proc.returncode == 0 and "OK 20 launches" in proc.stdout, (proc.stdout[-2000:], proc.stderr[-4000:])
