"""AST features of a module: what its kernel and helpers contain (`grammar.labels` names it).

Features are read from the AST only, never from how a kernel was generated,
so any Warp source (hand-written too) can be labelled.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from grammar.astnodes import decorated, wp_name
from grammar.builtins import math_builtin_names
from grammar.types import SPELLINGS

#: `wp.` names (types and builtins) that make a kernel "matrix": checked before the vector prefixes.
MATRIX_PREFIXES = (
    "mat",
    "spatial_matrix",
    "spatial_adjoint",
    "identity",
    "outer",
    "diag",
    "skew",
    "svd",
    "eig3",
    "qr3",
)
#: `wp.` name prefixes that make a kernel "vector": vectors, quaternions, transforms, spatial vectors,
#: and geometry queries (they take and return 3-vectors: points, directions, normals).
VECTOR_PREFIXES = (
    *("vec", "quat", "transform", "spatial"),
    *("mesh_", "bvh_", "hash_grid_", "volume_", "texture_"),
)


@dataclass
class Features:
    """What a module's kernel and helpers contain."""

    loop: bool = False
    while_loop: bool = False
    break_continue: bool = False
    conditional: bool = False
    elif_chain: bool = False
    compound_condition: bool = False
    nesting: int = 0  # deepest nesting of control-flow statements
    math: bool = False
    vector: bool = False
    matrix: bool = False
    atomic: bool = False
    scalar_param: bool = False
    helper_call: bool = False
    builtins: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)  # Warp type names spelled in the module

    @property
    def linalg(self) -> bool:
        return self.vector or self.matrix

    def as_list(self) -> list[str]:
        """The set features, by name, for `metadata`."""
        names = [n for n, v in vars(self).items() if v is True]
        if self.nesting >= 2:
            names.append(f"nesting_{self.nesting}")
        return sorted(names)


def _is_early_exit(node: ast.If) -> bool:
    """`if c: return`: a bounds guard in the prologue, not a conditional computation."""
    return not node.orelse and all(isinstance(s, ast.Return) for s in node.body)


def _is_guard_clause(node: ast.If) -> bool:
    """`if c: break|continue|return` with no else: a guard, not nesting."""
    simple = (ast.Break, ast.Continue, ast.Return)
    return not node.orelse and all(isinstance(s, simple) for s in node.body)


class _Collector(ast.NodeVisitor):
    def __init__(self, math_builtins: frozenset[str], helpers: frozenset[str], arrays: frozenset[str]):
        self.f = Features()
        self.math_builtins = math_builtins
        self.helpers = helpers  # collected up front, so calls are recognised wherever they appear
        self.arrays = arrays
        self._depth = 0
        self._in_annotation = False

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if decorated(node, "kernel") and not all(_is_array_arg(arg) for arg in node.args.args):
            self.f.scalar_param = True
        self.generic_visit(node)

    def _nested(self, node: ast.AST) -> None:
        self._depth += 1
        self.f.nesting = max(self.f.nesting, self._depth)
        self.generic_visit(node)
        self._depth -= 1

    def visit_For(self, node: ast.For) -> None:
        self.f.loop = True
        self._nested(node)

    def visit_While(self, node: ast.While) -> None:
        self.f.loop = self.f.while_loop = True
        self._nested(node)

    def visit_If(self, node: ast.If) -> None:
        if not _is_early_exit(node):
            self.f.conditional = True
        if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
            self.f.elif_chain = True
        if _is_early_exit(node):  # a bounds guard: its test (`i >= n or j >= m`) is not multi-condition logic
            return
        if _is_guard_clause(node):
            self.generic_visit(node)
            return
        self._depth += 1
        self.f.nesting = max(self.f.nesting, self._depth)
        self.visit(node.test)
        for stmt in node.body:
            self.visit(stmt)
        self._depth -= 1
        # an elif is a sibling branch, not a nested statement
        for stmt in node.orelse:
            if isinstance(stmt, ast.If):
                self.visit(stmt)
            else:
                self._depth += 1
                self.visit(stmt)
                self._depth -= 1

    def visit_Break(self, node: ast.Break) -> None:
        self.f.break_continue = True

    def visit_Continue(self, node: ast.Continue) -> None:
        self.f.break_continue = True

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self.f.compound_condition = True
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self.f.compound_condition = True
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) > 1:
            self.f.compound_condition = True
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if (
            isinstance(node.target, ast.Subscript)
            and isinstance(node.target.value, ast.Name)
            and node.target.value.id in self.arrays
        ):
            self.f.atomic = True  # arr[i] += v lowers to an atomic add
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = wp_name(node)
        if name is not None:
            if name.startswith(MATRIX_PREFIXES):
                self.f.matrix = True
            elif name.startswith(VECTOR_PREFIXES):
                self.f.vector = True
            if name in SPELLINGS:
                self.f.types.add(SPELLINGS[name])
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("float", "int"):  # Python's spelling of float32 and int32
            self.f.types.add(SPELLINGS[node.id])

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:  # a struct field: its type is no call
        self._in_annotation = True
        self.visit(node.annotation)
        self._in_annotation = False
        self.visit(node.target)

    def visit_arg(self, node: ast.arg) -> None:
        self._in_annotation = True
        self.generic_visit(node)
        self._in_annotation = False

    def visit_Call(self, node: ast.Call) -> None:
        name = wp_name(node.func)
        if name is not None and not self._in_annotation:  # wp.array(...) in a signature is no call
            self.f.builtins.add(name)
            if name.startswith("atomic_"):
                self.f.atomic = True
            elif name in self.math_builtins:
                self.f.math = True
        elif isinstance(node.func, ast.Name) and node.func.id in self.helpers:
            self.f.helper_call = True
        self.generic_visit(node)


def _is_array_arg(arg: ast.arg) -> bool:
    return arg.annotation is not None and ast.unparse(arg.annotation).startswith("wp.array")


def extract_features(tree: ast.Module, math_builtins: frozenset[str] | None = None) -> Features:
    """Features of a module holding one `@wp.kernel` and its `@wp.func` helpers."""
    if math_builtins is None:
        math_builtins = math_builtin_names()
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    helpers = frozenset(fn.name for fn in functions if decorated(fn, "func"))
    arrays = frozenset(arg.arg for fn in functions for arg in fn.args.args if _is_array_arg(arg))
    collector = _Collector(math_builtins, helpers, arrays)
    collector.visit(tree)
    return collector.f
