"""AST -> Python source: the text of a record's `python_source`."""

from __future__ import annotations

import ast


def to_source(tree: ast.Module) -> str:
    """Source text of a generated module (standard library `ast.unparse`, newline-terminated)."""
    number_statements(tree.body)
    return ast.unparse(tree) + "\n"


def number_statements(body: list[ast.stmt]) -> None:
    """Give statements the line number `ast.unparse` reads (expressions need none; cheaper than
    `ast.fix_missing_locations`, which visits every node)."""
    for stmt in body:
        if not hasattr(stmt, "lineno"):
            stmt.lineno = 0
        for field in ("body", "orelse"):
            nested = getattr(stmt, field, None)
            if isinstance(nested, list):
                number_statements(nested)
