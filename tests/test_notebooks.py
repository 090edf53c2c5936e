"""Every notebook in notebooks/ is committed executed and is part of the strict nbval run.

The nbval run itself is ``make test``:
``pytest tests --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env``.
A notebook saved without outputs passes nbval trivially, and one left out of that command is not
checked at all; these tests catch both.
"""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from unittest import mock

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
    "11_text",  # issue 20: text, a small transformer, fine-tuning
]
SKIP_MARKERS = ("nbval-skip", "nbval-raises-exc")
SKIP_COMMENTS = ("# NBVAL_SKIP", "# NBVAL_IGNORE_OUTPUT", "# NBVAL_RAISES_EXCEPTION")
IGNORE = "nbval-ignore-output"  # exact training digits: allowed when a check cell follows (docs/reports.md)


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
    args = args[args.index("pytest") + 1 :]
    for option in ("-n", "--dist"):  # pytest-xdist's: how many workers, how tests are shared out
        while option in args:
            i = args.index(option)
            del args[i : i + 2]
    return args


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


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_checked_strictly(name):
    """Seeded, one thread, uses the magics; no cell is skipped; a cell whose output nbval does not
    compare (exact training digits, tagged nbval-ignore-output) is followed by a check cell that asserts
    what it shows with tolerances, and at most 60 % of the cells are such (docs/reports.md)."""
    nb = _read(name)
    cells = _code_cells(nb)
    first = cells[0].source
    assert "torch.set_num_threads(1)" in first, f"{name}: fix the thread count in the first cell"
    assert "manual_seed(" in first, f"{name}: seed torch in the first cell"
    assert "%load_ext nbtrain" in first, f"{name}: load the magics in the first cell"
    assert any(c.source.lstrip().startswith("%%train") for c in cells), f"{name} never uses %%train"
    for i, c in enumerate(cells):
        tags = _tags(c)
        assert not set(tags) & set(SKIP_MARKERS), f"{name} cell {i} opts out of nbval with {tags}"
        assert not any(m in c.source for m in SKIP_COMMENTS), f"{name} cell {i} opts out of nbval (use the tag)"
        if IGNORE in tags:
            assert c.get("outputs"), f"{name} cell {i} is tagged {IGNORE} but shows nothing"
            after = next((d for d in cells[i + 1 :] if IGNORE not in _tags(d)), None)
            assert after is not None and "assert " in after.source, (
                f"{name} cell {i} is tagged {IGNORE}: the next compared cell must assert what it shows"
            )
    ignored = sum(IGNORE in _tags(c) for c in cells)
    assert ignored <= 0.6 * len(cells), f"{name}: {ignored} of {len(cells)} cells are not compared"


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


def test_make_test_runs_on_every_core_with_whole_files_per_worker():
    """pytest-xdist with conftest.py's scheduler: whole files per worker (a notebook's cells share one
    kernel, in order), every browser test on one worker."""
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as f:
        line = next(ln for ln in f.read().split("\ntest:", 1)[1].splitlines() if "pytest" in ln)
    args = shlex.split(line.strip())
    assert "-n" in args and args[args.index("--dist") + 1] == "loadfile", line
    assert callable(getattr(_root_conftest(), "pytest_xdist_make_scheduler", None))


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


def _root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest", os.path.join(ROOT, "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nbval_checks_the_notebooks_on_other_kernels_than_wrote_them(monkeypatch):
    """make test's nbval kernels (conftest.py) run with no library pinned and PyTorch on another kernel
    family than scripts/execute_notebooks.py wrote the saved outputs with: every make test proves the
    notebooks validate on a machine whose kernels round differently (docs/reports.md)."""
    sys.path.insert(0, ROOT)
    try:
        from scripts import notebook_env
    finally:
        sys.path.remove(ROOT)
    with open(os.path.join(ROOT, "scripts", "execute_notebooks.py"), encoding="utf-8") as f:
        assert "write_env(" in f.read(), "scripts/execute_notebooks.py must write the outputs in write_env"
    assert _root_conftest().NOTEBOOK_KERNEL_ENV.__name__ == "check_env"
    monkeypatch.delenv(notebook_env.CHECK_OVERRIDE, raising=False)
    for name in notebook_env.PINS:
        monkeypatch.setenv(name, "pinned by the user")
    with notebook_env.write_env():
        written = dict(os.environ)
    with notebook_env.check_env():
        checked = dict(os.environ)
    assert written["ATEN_CPU_CAPABILITY"] == "default" and written["MKL_CBWR"] == "COMPATIBLE"
    assert not set(notebook_env.PINS) - {"ATEN_CPU_CAPABILITY"} & set(checked), "nbval's kernels must not be pinned"
    import torch

    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        assert checked["ATEN_CPU_CAPABILITY"] == "avx2"
    else:  # the CPU's own kernels (NEON/SVE on ARM), not the writer's
        assert "ATEN_CPU_CAPABILITY" not in checked
    assert os.environ["MKL_CBWR"] == "pinned by the user", "check_env must restore the environment"


CHECK_ENV = """\
import os, torch
print(torch.backends.cpu.get_cpu_capability(), [v for v in %r if v in os.environ])"""


def _nbval(path, **env):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "--nbval", str(path)],
        cwd=ROOT,  # the checkout's conftest.py (-p conftest), as for notebooks/
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, **env),
    )


@pytest.mark.slow
def test_notebook_kernels_get_the_check_environment(tmp_path):
    """The kernel nbval starts for a notebook really runs the check environment of conftest.py: no pins
    (set here in the parent, as a user might have them), PyTorch's kernels the ones chosen."""
    sys.path.insert(0, ROOT)
    try:
        from scripts.notebook_env import CHECK_OVERRIDE, PINS, check_capability
    finally:
        sys.path.remove(ROOT)
    import torch

    pins = {name: "1" for name in PINS if name != "ATEN_CPU_CAPABILITY"}
    env = {CHECK_OVERRIDE: "", **pins}
    with mock.patch.dict(os.environ, env):
        capability = check_capability()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(CHECK_ENV % (list(pins),), execution_count=1)
    expected = (capability or torch.backends.cpu.get_cpu_capability()).upper()
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{expected} []\n")]
    nb.cells = [cell]
    path = tmp_path / "env.ipynb"
    nbformat.write(nb, path)
    proc = _nbval(path, **env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # the check can fail: on other kernels, or with the pins left on, it does
    assert _nbval(path, **dict(env, **{CHECK_OVERRIDE: "default"})).returncode != 0
