"""The test tree's own layout: pytest's default ``prepend`` import mode imports every test file by its
basename (the folders have no ``__init__.py``), so two files with one name in two folders stop the
whole run at collection ("import file mismatch"), which is how one CI run ended after 3 minutes.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_basenames_are_unique():
    seen = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if path.name.startswith("test_") or path.name in {"servers.py", "helpers.py"}:
            seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"test modules share a basename (rename one): {clashes}"
