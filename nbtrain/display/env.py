"""Which front end we are in, from ``sys.modules`` only (no imports).

``front_end()`` picks the kind of views: ``"notebook"`` (a Jupyter kernel: widgets, PNG plot,
HTML table) or ``"console"`` (text).  ``shell_kind()`` says more: ``"notebook"`` (ipykernel),
``"terminal"`` (terminal IPython) or ``"script"`` (plain Python, or an unknown shell).
A headless run (nbclient, ``nbconvert --execute``, papermill) is a kernel like any other and gets
the notebook views; they are written so that the saved notebook holds the final state.
"""

from __future__ import annotations

import sys


def shell_kind() -> str:
    """ "notebook", "terminal" or "script"."""
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return "script"
    try:
        shell = ipython_mod.get_ipython()
    except Exception:
        return "script"
    if shell is None:
        return "script"
    names = {cls.__name__ for cls in type(shell).__mro__}
    if "ZMQInteractiveShell" in names:
        return "notebook"
    if "TerminalInteractiveShell" in names:
        return "terminal"
    return "script"


def front_end() -> str:
    """ "notebook" in a Jupyter kernel (ipykernel's ZMQ shell), else "console"."""
    return "notebook" if shell_kind() == "notebook" else "console"
