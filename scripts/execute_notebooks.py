"""Re-execute the tutorial notebooks in place, the way strict nbval will re-run them.

    python scripts/execute_notebooks.py                 # every notebooks/*.ipynb
    python scripts/execute_notebooks.py 01 07           # those whose name starts with 01 or 07

Each notebook runs in a fresh kernel (cwd ``notebooks/``) with its own empty run store
(``NBTRAIN_STORE``) and every library on the CPU's baseline code path (``scripts/notebook_env.py``),
exactly as ``conftest.py`` gives each notebook under nbval, so ``%runs`` lists only that notebook's
runs and the saved numbers are the ones nbval gets on any x86-64 machine. Prints the seconds each
took. Commit the result, then check it with
``make test`` (or ``pytest --nbval notebooks/X.ipynb --nbval-sanitize-with notebooks/sanitize.cfg``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from notebook_env import write_env  # this script's folder is on sys.path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nbtrain-store-") as store, write_env(NBTRAIN_STORE=store):
        # the kernel inherits this environment
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(prefixes: list[str]) -> int:
    paths = sorted(p for p in NOTEBOOKS.glob("*.ipynb") if not prefixes or p.name.startswith(tuple(prefixes)))
    if not paths:
        print(f"no notebook in {NOTEBOOKS} starts with {prefixes}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"{path.name}: {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
