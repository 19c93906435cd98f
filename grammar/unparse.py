"""AST -> Python source: the text of a record's `python_source`."""

from __future__ import annotations

import ast


def to_source(tree: ast.Module) -> str:
    """Source text of a generated module (standard library `ast.unparse`, newline-terminated)."""
    return ast.unparse(tree) + "\n"
