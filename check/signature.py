"""Signatures that group findings: a hundred hits of one bug are one finding, with a count and its seeds.

A finding's *class* is its kind (compile, crash, gradient, differential ...) with,
for a differential, the part that differs (forward results, or only gradients),
and the Warp versions it shows in (both, for a differential).  Within a class:

- failures whose message names the cause (a compile failure, a Python exception
  at launch) are grouped by the message, normalised (`normalised`: the code line,
  paths, generated names, numbers and Warp's version label dropped);
- the others (wrong gradients, differing results, non-determinism, a death by
  signal) by the shrunk kernel's shape (`shape`: its code with every name and
  literal made anonymous).  A new hit whose kernel holds every construct of a
  filed finding's shrunk kernel (`constructs`: the builtins, operators and
  statement kinds it uses) is that finding's hit without being shrunk; this
  groups by what the bug needs, which is what shrinking keeps.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Sequence

from check.kinds import KINDS


def failure_class(kind: str, message: str, versions: Sequence[str]) -> str:
    """`kind[:part]@versions`: what must match before signatures are compared."""
    part = ""
    if kind == "differential":  # differing forward results make the gradients differ as well
        part = ":forward" if "forward" in json.loads(message)["part"] else ":gradient"
    return f"{kind}{part}@{','.join(sorted(versions))}"


def by_message(kind: str, message: str) -> bool:
    """Whether a failure is grouped by its message (`check.kinds.Kind.grouped_by`): compile failures and
    Python exceptions at launch, for example."""
    grouped_by = KINDS[kind].grouped_by
    return grouped_by == "message" or (grouped_by == "exception" and "the process died" not in message)


def normalised(message: str) -> str:
    """A failure's message without what varies between hits of one cause."""
    text = message.rpartition(";")[2] if "Error while parsing function" in message else message
    text = re.sub(r"^warp [\w.+-]+: ", "", text)
    text = re.sub(r"\S*/\S*", "PATH", text)  # files, with their line numbers
    text = re.sub(r"\b\w+_k\d+\w*", "NAME", text)  # names in merged modules
    text = re.sub(r"\bvar_\w+", "VAR", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return re.sub(r"\s+", " ", text).strip()


class _Anonymous(ast.NodeTransformer):
    """Names by first appearance (`v0`, `v1` ...; `wp.` attributes kept), literals by type."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(id=node.id if node.id == "wp" else self._name(node.id), ctx=node.ctx)

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._name(node.arg)
        return self.generic_visit(node)  # type: ignore[return-value]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self._name(node.name)
        return self.generic_visit(node)  # type: ignore[return-value]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.name = self._name(node.name)
        return self.generic_visit(node)  # type: ignore[return-value]

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        return ast.Constant(value={float: 0.0, int: 0, bool: False}.get(type(node.value), node.value))


def shape(source: str) -> str:
    """A kernel module's shape: its code with names and literals anonymous (a short hash of it)."""
    anonymous = ast.unparse(_Anonymous().visit(ast.parse(source)))
    return hashlib.sha1(anonymous.encode()).hexdigest()[:12]


#: Node classes that count as constructs (beside `wp.` names).
_CONSTRUCTS = (ast.operator, ast.cmpop, ast.unaryop, ast.boolop, ast.stmt, ast.IfExp, ast.Subscript)


def constructs(source: str) -> frozenset[str]:
    """The builtins, operators and statement and expression kinds a module's functions compute with
    (their bodies: parameter types are not constructs, nor index guards)."""
    found = set()
    module = ast.parse(source)
    functions = [n for n in ast.walk(module) if isinstance(n, ast.FunctionDef)]
    structs = {n.name for n in ast.walk(module) if isinstance(n, ast.ClassDef)}
    nodes = [n for func in functions for statement in func.body for n in ast.walk(statement)]
    guards = {id(part) for n in nodes if _index_guard(n) for part in ast.walk(n)}
    for node in (n for n in nodes if id(n) not in guards):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "wp":
            found.add(f"wp.{node.attr}")
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add("attribute store")  # `s.field = ...`, `v.x = ...`
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in structs:
            found.add("struct constructor")  # a local struct instance, `s = State()`
        elif isinstance(node, _CONSTRUCTS):
            found.add(type(node).__name__)
    return frozenset(found)


def _index_guard(node: ast.AST) -> bool:
    """`wp.clamp(k, 0, a.shape[d] - 1)`: the grammar's array index guard (`grammar.expressions`), in
    almost every kernel; a shrunk kernel clamping a value must not count as held by every kernel."""
    if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "wp.clamp" and len(node.args) == 3):
        return False
    upper = node.args[2]
    return (
        isinstance(upper, ast.BinOp)
        and isinstance(upper.op, ast.Sub)
        and isinstance(upper.left, ast.Subscript)
        and isinstance(upper.left.value, ast.Attribute)
        and upper.left.value.attr == "shape"
    )


def signature(kind: str, message: str, versions: Sequence[str], source: str) -> str:
    """The signature of a failure (a shrunk one: its kernel's shape counts)."""
    what = normalised(message) if by_message(kind, message) else shape(source)
    return f"{failure_class(kind, message, versions)}|{what}"
