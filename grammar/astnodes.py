"""Small builders and readers of Python AST nodes, shared by every production.

Generated source is built as `ast` nodes and unparsed (`grammar.unparse`);
these helpers spell the recurring shapes: `wp.name`, calls, typed literals,
dotted struct paths, array subscripts and extents, signatures.
"""

from __future__ import annotations

import ast
from functools import cache

from grammar.types import FLOAT32, INT32, WType


def wp_attr(name: str) -> ast.expr:
    """`wp.name`."""
    return ast.Attribute(value=ast.Name(id="wp", ctx=ast.Load()), attr=name, ctx=ast.Load())


def wp_name(node: ast.AST) -> str | None:
    """`name` for an expression `wp.name`, else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "wp":
        return node.attr
    return None


def same(a: object, b: object) -> bool:
    """Whether two expressions are the same code (structural, stopping at the first difference)."""
    if isinstance(a, ast.AST):
        if type(a) is not type(b):
            return False
        return all(same(getattr(a, f, None), getattr(b, f, None)) for f in a._fields)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def call(func: str, *args: ast.expr, **keywords: ast.expr) -> ast.Call:
    """`func(args)`; `func` may be dotted (`wp.sin`)."""
    node = wp_attr(func[3:]) if func.startswith("wp.") else ast.Name(id=func, ctx=ast.Load())
    kws = [ast.keyword(arg=k, value=v) for k, v in keywords.items()]
    return ast.Call(func=node, args=list(args), keywords=kws)


def number(ty: WType, value: float) -> ast.expr:
    """A literal of scalar type `ty`: bare for float32 and int32, else its constructor (`wp.uint8(3)`)."""
    const = ast.Constant(int(value) if ty.kind == "int" else float(value))
    if ty in (FLOAT32, INT32):
        return const
    return call(f"wp.{ty.warp_name}", const)


def binop(left: ast.expr, op: ast.operator, right: ast.expr) -> ast.BinOp:
    return ast.BinOp(left=left, op=op, right=right)


def path(name: str, ctx: ast.expr_context) -> ast.expr:
    """`name`, or an attribute chain for a dotted struct field path (`body.inner.mass`)."""
    base, *attrs = name.split(".")
    node: ast.expr = ast.Name(id=base, ctx=ast.Load() if attrs else ctx)
    for k, attr in enumerate(attrs):
        node = ast.Attribute(value=node, attr=attr, ctx=ctx if k == len(attrs) - 1 else ast.Load())
    return node


def load(name: str) -> ast.expr:
    return path(name, ast.Load())


def store(name: str) -> ast.expr:
    return path(name, ast.Store())


def shape(array: str, dim: int) -> ast.expr:
    """`array.shape[dim]`."""
    extent = ast.Attribute(value=load(array), attr="shape", ctx=ast.Load())
    return ast.Subscript(value=extent, slice=ast.Constant(dim), ctx=ast.Load())


def subscript(name: str, index: list[ast.expr], ctx: ast.expr_context) -> ast.Subscript:
    """`name[i]` or `name[i, j, ...]`."""
    slice_ = index[0] if len(index) == 1 else ast.Tuple(elts=index, ctx=ast.Load())
    return ast.Subscript(value=load(name), slice=slice_, ctx=ctx)


@cache
def annotation(text: str) -> ast.expr:
    """The annotation spelled `text` (one node per spelling, shared: annotations are never changed)."""
    return ast.parse(text, mode="eval").body


def arguments(params: list[tuple[str, str]]) -> ast.arguments:
    """A signature of (name, annotation text) pairs."""
    return ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg=name, annotation=annotation(text)) for name, text in params],
        kwonlyargs=[],
        kw_defaults=[],
        defaults=[],
    )


def decorated(node: ast.FunctionDef | ast.ClassDef, decorator: str) -> bool:
    """`@wp.<decorator>` (or `@wp.<decorator>(options)`) on `node`."""
    return any(wp_name(d.func if isinstance(d, ast.Call) else d) == decorator for d in node.decorator_list)
