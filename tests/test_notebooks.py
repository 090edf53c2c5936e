"""Every notebook in notebooks/ is committed executed and is part of the strict nbval run.

The nbval run itself is ``make test``:
``pytest tests --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env``.
A notebook saved without outputs passes nbval trivially, and one left out of that command is not
checked at all; these tests catch both.
"""

import os
import re
import shlex
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NB_DIR = os.path.join(ROOT, "notebooks")
NOTEBOOKS = sorted(f for f in os.listdir(NB_DIR) if f.endswith(".ipynb")) if os.path.isdir(NB_DIR) else []
# the lessons issue 5 asks for; each must exist
REQUIRED = [
    "01_quickstart",
    "02_preprocessing",
    "03_model_selection",
    "04_loss_functions",
    "05_optimizers",
    "06_evaluation",
    "07_devices_and_speed",
    "08_report",
    "09_training_to_deployment",
]
SKIP_MARKERS = ("nbval-skip", "nbval-ignore-output", "nbval-raises-exc")
SKIP_COMMENTS = ("# NBVAL_SKIP", "# NBVAL_IGNORE_OUTPUT", "# NBVAL_RAISES_EXCEPTION")


def _read(name):
    return nbformat.read(os.path.join(NB_DIR, name), as_version=4)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _nbval_command():
    """The pytest arguments of the Makefile's test target (the command CI runs)."""
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as f:
        makefile = f.read()
    m = re.search(r"^test:.*\n((?:\t.*\n?)+)", makefile, re.M)
    assert m, "the Makefile has no test target"
    line = next((ln for ln in m.group(1).splitlines() if "pytest" in ln), None)
    assert line, "the Makefile's test target does not run pytest"
    args = shlex.split(line.strip())
    return args[args.index("pytest") + 1 :]


def test_every_lesson_exists():
    missing = [n for n in REQUIRED if f"{n}.ipynb" not in NOTEBOOKS]
    assert not missing, f"notebooks missing from notebooks/: {missing}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_executed(name):
    nb = _read(name)
    cells = _code_cells(nb)
    assert cells, f"{name} has no code cells"
    counts = [c.get("execution_count") for c in cells if c.source.strip()]
    assert all(isinstance(n, int) for n in counts), (
        f"{name} has unexecuted cells: run python scripts/execute_notebooks.py {name[:2]}"
    )
    assert counts == list(range(1, len(counts) + 1)), (
        f"{name} was not executed top to bottom in one fresh kernel (execution counts {counts})"
    )
    n_outputs = sum(len(c.get("outputs", [])) for c in cells)
    assert n_outputs >= max(3, len(cells) // 3), f"{name} is committed with almost no outputs ({n_outputs})"
    for i, c in enumerate(cells):
        for out in c.get("outputs", []):
            assert out.output_type != "error", f"{name} cell {i} is saved with an error: {out.get('ename')}"
            if out.output_type == "stream":
                assert out.name != "stderr", f"{name} cell {i} writes to stderr (a warning?): {out.text[:200]!r}"
            assert "image/svg+xml" not in out.get("data", {}), f"{name} cell {i}: keep figures PNG (SVG embeds a date)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_checked_strictly(name):
    """Seeded, one thread, uses the magics, and no cell opts out of nbval's comparison."""
    nb = _read(name)
    cells = _code_cells(nb)
    first = cells[0].source
    assert "torch.set_num_threads(1)" in first, f"{name}: fix the thread count in the first cell"
    assert "manual_seed(" in first, f"{name}: seed torch in the first cell"
    assert "%load_ext nbtrain" in first, f"{name}: load the magics in the first cell"
    assert any(c.source.lstrip().startswith("%%train") for c in cells), f"{name} never uses %%train"
    for i, c in enumerate(cells):
        tags = c.get("metadata", {}).get("tags", [])
        assert not set(tags) & set(SKIP_MARKERS), f"{name} cell {i} opts out of nbval with {tags}"
        assert not any(m in c.source for m in SKIP_COMMENTS), f"{name} cell {i} opts out of nbval"


def test_makefile_runs_every_notebook_under_strict_nbval():
    args = _nbval_command()
    assert "--nbval" in args and "--nbval-lax" not in args, f"the test target must run strict nbval: {args}"
    assert "--nbval-sanitize-with" in args
    sanitize = args[args.index("--nbval-sanitize-with") + 1]
    assert os.path.exists(os.path.join(ROOT, sanitize)), f"{sanitize} does not exist"
    paths = [a for a in args if not a.startswith("-") and a != sanitize]
    covered = any(os.path.normpath(p) == "notebooks" for p in paths)
    if not covered:
        listed = {os.path.basename(p) for p in paths if p.endswith(".ipynb")}
        missing = [n for n in NOTEBOOKS if n not in listed]
        assert not missing, f"notebooks not in the nbval run of `make test`: {missing}"


@pytest.mark.slow
def test_nbval_collects_every_code_cell_of_every_notebook():
    """Collect (without running) with the Makefile's own arguments: each notebook, each code cell."""
    args = [a for a in _nbval_command() if a != "tests"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    collected = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^(?:\S*/)?notebooks/([^/:]+\.ipynb)::", line.strip())
        if m:
            collected[m.group(1)] = collected.get(m.group(1), 0) + 1
    for name in NOTEBOOKS:
        n_cells = len(_code_cells(_read(name)))
        assert collected.get(name) == n_cells, (
            f"{name}: nbval collected {collected.get(name, 0)} of {n_cells} code cells"
        )


def test_ci_runs_the_nbval_command():
    ci = os.path.join(ROOT, ".ci", "run")
    if not os.path.exists(ci):
        pytest.skip(".ci/run is not written yet")
    with open(ci, encoding="utf-8") as f:
        text = f.read()
    assert "make test" in text or ("--nbval" in text and "notebooks" in text), (
        ".ci/run must run `make test` (or pytest --nbval notebooks ...)"
    )


CHECK_ENV = """\
import os, torch
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
print(torch.backends.cpu.get_cpu_capability(), os.environ.get("MKL_CBWR"), os.environ.get("ONEDNN_MAX_CPU_ISA"),
      os.environ.get("OPENBLAS_CORETYPE"), [f for f in __cpu_dispatch__ if __cpu_features__[f]])"""


def _nbval(path, *plugin):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, "--nbval", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_notebook_kernels_run_on_the_baseline_code_paths(tmp_path):
    """The kernel nbval starts for a notebook gets scripts/notebook_env.py's environment (conftest.py),
    so the saved numbers, computed in that environment too, match on a CPU with other SIMD kernels."""
    pytest.importorskip("numpy._core._multiarray_umath")
    import torch

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(CHECK_ENV, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="DEFAULT COMPATIBLE SSE41 Nehalem []\n")]
    nb.cells = [cell]
    path = tmp_path / "env.ipynb"
    nbformat.write(nb, path)
    proc = _nbval(path, "-p", "conftest")  # the checkout's conftest.py, as for notebooks/
    assert proc.returncode == 0, proc.stdout[-3000:]
    if torch.backends.cpu.get_cpu_capability() != "DEFAULT":  # the check can fail: without it, it does
        assert _nbval(path).returncode != 0
