"""The package's import graph: no cycles (lazy imports inside functions count too), and only the
arrows DESIGN.md allows between the layers.

Every ``import`` statement of every module is read with ``ast`` (wherever it is: top level, inside a
function, under ``if TYPE_CHECKING``), so a cycle hidden behind a lazy import fails here just like
the core importing IPython fails ``tests/test_imports.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nbtrain"

# layer -> the layers it may import (besides itself and the package's leaf modules below)
ALLOWED = {
    "core": set(),
    "display": {"core"},
    "distributed": {"core"},
    "api": {"core", "display", "distributed", "loggers"},
    "loggers": {"core"},  # nbtrain/loggers: TensorBoard, MLflow, CSV (Callbacks)
    "sklearn": {"api", "core"},  # nbtrain/sklearn.py: scikit-learn estimators over train / predict
    "magics": {"api", "core", "display"},
    "lessons": {"core", "display"},  # nbtrain/lessons: the notebooks' explore panels (ipywidgets, matplotlib)
    "package": {
        "api",
        "core",
        "display",
        "magics",
        "distributed",
        "lessons",
        "loggers",
        "sklearn",
    },  # nbtrain/__init__.py, demo.py, worker.py
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict:
    mods = _modules()
    graph = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_pkg, node)
                # `from pkg import sub` imports the submodule pkg.sub when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in mods and t != mod:
                    graph[mod].add(t)
    return graph


def _layer(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in ("core", "display", "distributed", "magics", "lessons", "loggers", "sklearn"):
        return parts[1]
    # tuning.py (the tuning twins) and cv.py (cross-validation) sit beside api.py
    return "api" if parts[1] in ("api", "tuning", "cv") else "package"


def _cycles(graph: dict) -> list:
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_graph_sees_lazy_imports():
    # the reader must see imports inside functions, or the cycle test below proves nothing
    graph = import_graph()
    assert "nbtrain.magics" in graph["nbtrain"], "nbtrain/__init__.py imports the magics lazily"
    assert "nbtrain.distributed" in graph["nbtrain.api"], "api.train imports distributed lazily"


def test_no_import_cycles():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles (lazy imports included): " + "; ".join(" <-> ".join(c) for c in cycles)


def test_only_allowed_arrows_between_layers():
    bad = []
    for mod, deps in import_graph().items():
        src = _layer(mod)
        for dep in deps:
            dst = _layer(dep)
            if dst != src and dst not in ALLOWED[src]:
                bad.append(f"{mod} ({src}) -> {dep} ({dst})")
    assert not bad, "imports across layers that DESIGN.md forbids:\n" + "\n".join(sorted(bad))
