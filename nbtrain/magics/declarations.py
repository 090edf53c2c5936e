"""Which names a ``%%train`` cell declared: parse the cell, run it, read only what it assigned.

A name counts as declared when the cell's own code binds it at the top level (``model = ...``,
``data = data``, ``for model in ...``, ``import x as model``, ``def loss(...)``), or when its value
changed identity while the cell ran (``globals()["model"] = ...``).  A ``model`` left over from an
earlier cell is never read.

>>> sorted(assigned_names("data = data\\nmodel: str = 'mlp'\\nx = [loss for loss in range(3)]"))
['data', 'model', 'x']
"""

from __future__ import annotations

import ast

#: what a %%train cell may declare, and the train() keyword each one feeds
DECLARED = (
    "data",
    "val_data",
    "test_data",
    "preprocess",
    "model",
    "loss",
    "optimizer",
    "scheduler",
    "metrics",
    "callbacks",
    "collate",
)

_MISSING = object()


class _Binder(ast.NodeVisitor):
    """Collects the names bound in the module scope (not inside functions, classes, lambdas or
    comprehensions, whose names are local to them)."""

    def __init__(self):
        self.names: set = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def _scope(self, node):
        # the definition binds its name; decorators, defaults and bases run in the module scope
        self.names.add(node.name)
        for d in getattr(node, "decorator_list", ()):
            self.visit(d)
        args = getattr(node, "args", None)
        if args is not None:
            for d in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:
                self.visit(d)
        for b in getattr(node, "bases", ()):
            self.visit(b)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Lambda(self, node):
        for d in list(node.args.defaults) + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)

    def _comprehension(self, node):
        # only the first iterable is evaluated in the enclosing scope; a walrus inside binds there
        self.visit(node.generators[0].iter)
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.names.add(sub.target.id)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Import(self, node):
        for a in node.names:
            self.names.add(a.asname or a.name.split(".")[0])

    def visit_ImportFrom(self, node):
        for a in node.names:
            if a.name != "*":
                self.names.add(a.asname or a.name)

    def visit_ExceptHandler(self, node):
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node):
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node):
        if node.name:
            self.names.add(node.name)

    def visit_MatchMapping(self, node):
        if node.rest:
            self.names.add(node.rest)
        self.generic_visit(node)


def assigned_names(source: str) -> set | None:
    """Names the (already IPython-transformed) source binds at the top level; None on a syntax error."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    b = _Binder()
    b.visit(tree)
    return b.names


def snapshot(ns: dict, names=DECLARED) -> dict:
    """The objects bound to ``names`` before the cell runs (compared by identity afterwards)."""
    return {n: ns.get(n, _MISSING) for n in names}


def declared(ns: dict, source: str, before: dict, names=DECLARED) -> dict:
    """The declarations the cell made: {name: value} for names it assigned and that still exist."""
    bound = assigned_names(source) or set()
    out = {}
    for n in names:
        now = ns.get(n, _MISSING)
        if now is _MISSING:
            continue  # never bound, or deleted again by the cell
        if n in bound or now is not before.get(n, _MISSING):
            out[n] = now
    return out


def stale(ns: dict, source: str, before: dict, names=DECLARED) -> list:
    """Declarable names that exist in the namespace but the cell did not assign (they are ignored)."""
    got = declared(ns, source, before, names)
    return [n for n in names if n in ns and n not in got]
