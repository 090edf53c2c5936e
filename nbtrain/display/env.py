"""Which front end we are in, from ``sys.modules`` only (no imports)."""
from __future__ import annotations

import sys


def front_end() -> str:
    """"notebook" in a Jupyter kernel (ipykernel's ZMQ shell), else "console"."""
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return "console"
    try:
        shell = ipython_mod.get_ipython()
    except Exception:
        return "console"
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        return "notebook"
    return "console"
