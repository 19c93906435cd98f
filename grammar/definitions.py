"""Module-level definitions: `wp.constant`s, `@wp.struct` types and `@wp.func` helpers.

A helper's parameters are pending when its body starts, and its return value
gathers everything still pending: its result depends on every parameter and
on everything its body computed.  Helpers may overload an earlier one (same
name, other parameter types) and call earlier helpers, never themselves, so
call chains are recursion-free.
"""

from __future__ import annotations

import ast

from grammar.astnodes import annotation, arguments, call, store, wp_attr
from grammar.choices import choice
from grammar.context import Expr, Gen, Helper, StructType, Var
from grammar.expressions import call_helper, gather, literal, pending_leaves
from grammar.names import CONSTANT_NAMES, FIELD_NAMES, HELPER_NAMES, STRUCT_NAMES, VAR_NAMES
from grammar.simple import declare_value
from grammar.statements import block
from grammar.types import ArrayType, WType


def constant(g: Gen) -> ast.stmt:
    """`NAME = wp.constant(literal)`: a module-level constant (float, int or vector)."""
    ty = choice(g.ch, [t for t in g.storable if t.family in ("scalar", "vec")])
    value = literal(g, ty)
    name = g.names.fresh(CONSTANT_NAMES)
    g.constants.append(Var(name, ty, mutable=False, bound=value.bound, constant=True, span=value.span))
    g.unrolled.add(name)  # never converted (docs/warp_findings/cast_retypes_constant.py)
    return ast.Assign(targets=[store(name)], value=call("wp.constant", value.node))


def struct(g: Gen) -> ast.ClassDef:
    """`@wp.struct class Name: fields`: value fields, maybe an array, and the previous struct nested
    (so a kernel using the last struct uses every one)."""
    fields: list[tuple[str, WType | StructType | ArrayType]] = []
    for _ in range(g.ch.integer(1, 2)):
        fields.append((g.names.fresh(FIELD_NAMES), choice(g.ch, g.storable)))
    if g.structs:
        fields.append((g.names.fresh(FIELD_NAMES), g.structs[-1]))
    if g.ch.boolean(0.5):
        dtype = choice(g.ch, g.storable)
        fields.append((g.names.fresh(FIELD_NAMES), ArrayType(dtype, g.policy.launch_ndim)))
    made = StructType(g.names.fresh(STRUCT_NAMES), tuple(fields))
    g.structs.append(made)
    body: list[ast.stmt] = [
        ast.AnnAssign(target=store(n), annotation=annotation(t.annotation), value=None, simple=1)
        for n, t in fields
    ]
    return ast.ClassDef(
        name=made.name, bases=[], keywords=[], body=body, decorator_list=[wp_attr("struct")], type_params=[]
    )


def helper(g: Gen, unary: WType | None = None, nest: Helper | None = None) -> ast.FunctionDef:
    """`@wp.func def name(params) -> T: statements; return value` (or `return a, b`).

    `unary`: the helper maps one value of that type to another (for `wp.tile_map`);
    `nest`: its body starts by calling that helper (`x = f(a, b)`: kernel -> helper -> f).
    """
    outer, g.scope = g.scope, g.new_scope(kernel=False)
    g.in_helper = True
    params = []
    for _ in range(1 if unary else g.ch.integer(1, 3)):
        ty = unary or choice(g.ch, g.types)
        var = Var(g.names.fresh(VAR_NAMES[ty.kind]), ty, mutable=False, tainted=True)
        g.scope.declare(var)
        params.append(var)
    n_results = 2 if not unary and g.ch.boolean(0.25) else 1
    results = (unary,) if unary else tuple(choice(g.ch, g.types) for _ in range(n_results))
    called = call_helper(g, nest, g.policy.max_expr_depth) if nest else None
    body = declare_value(g, called) if called else []
    body += block(g, g.ch.integer(0, 1), helper=True)
    values = returned_values(g, results)
    nodes = [g.use(v) for v in values]
    body.append(ast.Return(value=nodes[0] if n_results == 1 else ast.Tuple(elts=nodes, ctx=ast.Load())))
    param_types = tuple(p.type for p in params)
    name = overloaded_name(g, param_types, results) or g.names.fresh(HELPER_NAMES)
    g.scope, g.in_helper = outer, False
    made = Helper(f"helper {len(g.helpers)}", name, param_types, results, max(v.bound for v in values))
    g.helpers.append(made)
    g.uncalled[made.key] = None
    return ast.FunctionDef(
        name=name,
        args=arguments([(p.name, p.type.annotation) for p in params]),
        body=body,
        decorator_list=[wp_attr("func")],
        returns=annotation(results[0].annotation) if n_results == 1 else None,
        type_params=[],
    )


def returned_values(g: Gen, results: tuple[WType, ...]) -> list[Expr]:
    """One value per result type, together reading every pending value of the helper."""
    pending = [leaf for make in pending_leaves(g, None) if (leaf := make()) is not None]
    shares: list[list[Expr]] = [[] for _ in results]
    for k, leaf in enumerate(pending):
        shares[k % len(results)].append(leaf)
    return [gather(g, ty, share) for ty, share in zip(results, shares, strict=True)]


def overloaded_name(g: Gen, params: tuple[WType, ...], results: tuple[WType, ...]) -> str | None:
    """The name of an earlier helper this one may overload: same arity, other first parameter."""
    names = [
        h.name
        for h in g.helpers
        if len(h.params) == len(params) and h.params[0] is not params[0] and len(h.results) == len(results)
    ]
    clashes = {h.name for h in g.helpers if h.params == params}
    names = [n for n in names if n not in clashes]
    if names and g.ch.boolean(0.4):
        return choice(g.ch, names)
    return None
