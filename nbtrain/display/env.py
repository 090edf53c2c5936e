"""Which front end we are in, from ``sys.modules``, the kernel's namespace and its environment (no imports).

``front_end()`` picks the kind of views: ``"notebook"`` (a Jupyter kernel: widgets, live plot, HTML
table), ``"marimo"`` (a marimo notebook or app: the plot and table as the cell's output) or
``"console"`` (text).  ``shell_kind()`` says which IPython shell runs: ``"notebook"`` (ipykernel),
``"terminal"`` (terminal IPython) or ``"script"`` (plain Python, marimo, or an unknown shell).
``host()`` names the front end itself, for what differs between Jupyter front ends:

==========  ===========================================================================
"jupyter"   JupyterLab, Notebook 7, nbclient / nbconvert / papermill (a kernel, no other sign)
"vscode"    VS Code's Jupyter extension: it defines ``__vsc_ipynb_file__`` in the kernel's namespace
"colab"     Google Colab: its kernel imports ``google.colab`` at start-up
"voila"     Voilà: it starts kernels with ``VOILA_*`` variables (``VOILA_KERNEL_ID`` among them)
"marimo"    a marimo notebook or app (``marimo`` imported and running a cell)
"terminal"  terminal IPython
"script"    plain Python
==========  ===========================================================================

A headless run (nbclient, ``nbconvert --execute``, papermill) is a kernel like any other and gets
the notebook views; they are written so that the saved notebook holds the final state.

>>> host() in ("jupyter", "vscode", "colab", "voila", "marimo", "terminal", "script")
True
"""

from __future__ import annotations

import os
import sys

#: variables Voilà puts in the environment of the kernels it starts (voila/handler.py, voila/utils.py)
VOILA_VARS = ("VOILA_KERNEL_ID", "VOILA_SERVER_URL", "VOILA_BASE_URL", "VOILA_APP_PORT")


def _shell():
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return None
    try:
        return ipython_mod.get_ipython()
    except Exception:
        return None


def shell_kind() -> str:
    """ "notebook", "terminal" or "script"."""
    shell = _shell()
    if shell is None:
        return "script"
    names = {cls.__name__ for cls in type(shell).__mro__}
    if "ZMQInteractiveShell" in names:
        return "notebook"
    if "TerminalInteractiveShell" in names:
        return "terminal"
    return "script"


def in_marimo() -> bool:
    """Whether a marimo notebook or app is running this code (marimo is never imported here)."""
    mo = sys.modules.get("marimo")
    if mo is None:
        return False
    try:  # public API: True inside ``marimo edit``, ``marimo run`` and ``marimo export``; False in scripts
        return bool(mo.running_in_notebook())
    except Exception:
        return False


def host(environ=None) -> str:
    """The front end: "jupyter", "vscode", "colab", "voila", "marimo", "terminal" or "script"."""
    if in_marimo():
        return "marimo"
    kind = shell_kind()
    if kind != "notebook":
        return kind
    env = os.environ if environ is None else environ
    if "google.colab" in sys.modules:
        return "colab"
    if any(v in env for v in VOILA_VARS):
        return "voila"
    shell = _shell()
    user_ns = getattr(shell, "user_ns", None) or {}
    # VS Code sets this global in every notebook kernel it runs; VSCODE_PID alone is not enough: a
    # JupyterLab started from VS Code's terminal inherits it (jupyter_server sets JPY_SESSION_NAME)
    if "__vsc_ipynb_file__" in user_ns or ("VSCODE_PID" in env and "JPY_SESSION_NAME" not in env):
        return "vscode"
    return "jupyter"


def front_end() -> str:
    """ "notebook" in a Jupyter kernel (ipykernel's ZMQ shell), "marimo" in marimo, else "console"."""
    if in_marimo():
        return "marimo"
    return "notebook" if shell_kind() == "notebook" else "console"
