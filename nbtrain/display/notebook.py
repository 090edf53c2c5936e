"""Notebook views (placeholder until the live views land): text output."""
from __future__ import annotations


def notebook_views(run) -> list:
    from .console import ConsoleView
    return [ConsoleView()]
