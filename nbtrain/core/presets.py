"""Safe parsing of preset strings such as ``"mlp(64, 64, dropout=0.1)"``.

Strings are parsed with :mod:`ast` and only literals are accepted: nothing is ever evaluated,
so ``"__import__('os').system('x')"`` is a :class:`PresetError`, not a command.

>>> parse_preset("sgd(lr=0.1, momentum=0.9)")
Preset(name='sgd', args=(), kwargs={'lr': 0.1, 'momentum': 0.9})
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from .errors import PresetError

_MAX_LEN = 500


@dataclass(frozen=True)
class Preset:
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})" if parts else self.name


def _literal(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, text)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e, text) for e in node.elts)
    if isinstance(node, ast.Name) and node.id in ("true", "false", "none"):
        return {"true": True, "false": False, "none": None}[node.id]
    if isinstance(node, ast.Name):
        # bare words are accepted as strings: "mlp(32, activation=gelu)"
        return node.id
    raise PresetError(
        f"preset {text!r} may only contain numbers, strings, booleans and tuples as arguments; "
        'write e.g. "mlp(64, 64, dropout=0.1)".'
    )


def parse_preset(text: str) -> Preset:
    """Parse ``name`` or ``name(arg, ..., key=value)`` into a :class:`Preset`."""
    if not isinstance(text, str):
        raise PresetError(f"a preset must be a string, got {type(text).__name__}.")
    src = text.strip()
    if not src:
        raise PresetError('empty preset string: give a name such as "adam" or "mlp(64, 64)".')
    if len(src) > _MAX_LEN:
        raise PresetError(f"preset string is too long ({len(src)} characters, at most {_MAX_LEN}).")
    if ":" in src and "(" not in src:
        # "impute:median" is shorthand for impute(median)
        name, _, arg = src.partition(":")
        name, arg = name.strip(), arg.strip()
        if not name.isidentifier() or not arg:
            raise PresetError(f'malformed preset {text!r}: write "name:option", e.g. "impute:median".')
        return Preset(name.lower(), (arg,), {})
    try:
        tree = ast.parse(src, mode="eval")
    except (SyntaxError, ValueError):
        raise PresetError(
            f'malformed preset {text!r}: write "name" or "name(arg, key=value)", e.g. "mlp(64, 64)".'
        ) from None
    node = tree.body
    if isinstance(node, ast.Name):
        return Preset(node.id.lower())
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = tuple(_literal(a, text) for a in node.args)
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise PresetError(f"malformed preset {text!r}: '**' is not allowed.")
            kwargs[kw.arg] = _literal(kw.value, text)
        return Preset(node.func.id.lower(), args, kwargs)
    raise PresetError(f'malformed preset {text!r}: write "name" or "name(arg, key=value)", e.g. "mlp(64, 64)".')


def split_pipeline(text: str) -> list[str]:
    """Split ``"impute:median | standardize"`` into its steps."""
    steps = [s.strip() for s in text.split("|")]
    if any(not s for s in steps):
        raise PresetError(f"malformed preprocessing {text!r}: empty step between '|' separators.")
    return steps


def check_kwargs(preset: Preset, allowed: set[str], kind: str) -> None:
    bad = sorted(set(preset.kwargs) - allowed)
    if bad:
        raise PresetError(
            f"{kind} {preset.name!r} does not take {', '.join(bad)}; "
            f"it accepts {', '.join(sorted(allowed)) or 'no keyword arguments'}."
        )
