"""Expressions: typed, free of undefined behaviour, and drawn from live values.

    expression := pending value | variable | array_read | component | builtin(args)
                | helper(args) | constructor(args) | flow(pending value of another type)
                | literal                                   (only where no live value is needed)

Leaves come mostly from what the kernel already has: pending values first
(parameters, array reads at the thread's index, earlier locals, loop
variables), so data flows from the inputs towards the outputs.  A call gets
at least one live argument (its *anchor*), so no call computes a constant;
literals are scales, offsets, bounds and constructors.  Calls repeating an
argument where that cancels or is idempotent (`x - x`, `wp.min(v, v)`) are
not generated.  `flow` turns a value of one type into another that depends on
it (a builtin, a component, a constructor, or a comparison and `wp.where`),
`combine` joins two values of one type, and `gather` folds many into one: how
pending values reach a store.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import replace
from functools import cache, lru_cache

from grammar import safety, spans
from grammar.astnodes import binop, call, number, same, shape, subscript, wp_attr
from grammar.builtins import (
    ARGUMENTS,
    ATOMICS,
    BINARY_OPERATORS,
    CONVERSIONS,
    INT_RANGE,
    SAFETY,
    SUMMED,
    UNARY_OPERATORS,
    VALUE_RANGE,
    Builtin,
    builtins_returning,
    math_builtin_names,
    nondifferentiable_on_floats,
)
from grammar.choices import choice
from grammar.context import Allowance, Array, Expr, Gen, Helper, Var
from grammar.types import BOOL, BY_WARP_NAME, INT32, SUFFIX, UINT32, WType, is_unsigned

#: Builtins for which a repeated argument means something (`x * x`, `wp.dot(v, v)`); any other
#: call with two identical arguments cancels or is idempotent (`x - x`, `x ^ x`, `wp.min(a, a)`).
REPEAT_OK = frozenset(
    {"add", "mul", "dot", "outer", "cw_mul", "ddot", "spatial_dot", "pow", "tile_dot", "tile_matmul"}
    # geometry: a voxel on a diagonal, a ray from p along p, a texel at (u, u)
    | {"volume_lookup", "volume_lookup_f", "volume_lookup_v", "volume_lookup_i", "texture_sample"}
    | {"mesh_query_ray", "mesh_query_ray_anyhit", "mesh_query_ray_count_intersections"}
    | {"bvh_query_ray", "bvh_query_capsule"}
    # a tile's diagonal element, a descending range (`tile_arange(3, -1, -1)`), hist[i] = min(hist[i], i)
    | {"tile_extract", "tile_arange", *ATOMICS}
)
#: Arguments drawn live, and never a constant: one deciding between the others (a constant decides
#: nothing), a dividend of `//` and `%` (`0.1 // (wp.abs(x) + 1.0)` is 0 whatever x is).
DECIDING: dict[str, tuple[int, ...]] = {"where": (0,), "floordiv": (0,), "mod": (0,)}
#: Binary builtins `combine` prefers, by weight (others of type (T, T) -> T weigh 1).
COMBINERS = {"add": 4.0, "mul": 3.0, "sub": 2.0, "max": 1.0, "min": 1.0}
#: Attribute names of components, with the vector length each needs (0: a transform's parts).
ATTRIBUTES: dict[str, dict[str, int]] = {
    "vec": {"x": 1, "y": 2, "z": 3, "w": 4},
    "quat": {"x": 1, "y": 2, "z": 3, "w": 4},
    "transform": {"p": 0, "q": 0},
}
#: Fallbacks nested in one another (a flow's arguments may need a flow of their own).
MAX_FALLBACKS = 2
#: Float literals a value is compared with: where inputs and most computed values lie.
THRESHOLDS = (0.0, 0.5, -0.5, 1.0, -1.0, 0.25, -0.25, 1.5, -1.5, 0.1)
#: Scalar literals a kernel uses as scales, offsets and thresholds.
ROUND_FLOATS = (0.5, 1.0, 2.0, 0.25, 3.0, 10.0, 0.1, -1.0, 1.5, 0.01, 100.0, -0.5)


# ----------------------------------------------------------------------------- the start


def expression(g: Gen, ty: WType, depth: int, live: bool = False) -> Expr:
    """An expression of type `ty`, at most `depth` calls deep; `live`: it must read a runtime value."""
    if ty is BOOL:
        return condition(g, min(depth, 1))
    options: list[tuple[float, Callable[[], Expr | None]]] = []
    pending = pending_leaves(g, ty, calls=depth > 0)
    if pending:
        options.append((6.0, lambda: choice(g.ch, pending)()))
    variables = g.scope.values(ty)
    if variables:
        options.append((3.0, lambda: g.read(choice(g.ch, variables))))
    arrays = [a for a in g.scope.inputs if a.type.dtype is ty]
    if arrays:  # read again (a pending array is read above)
        options.append((0.7, lambda: array_read(g, choice(g.ch, arrays))))
    if ty.is_scalar and component_vars(g, ty):
        options.append((1.0, lambda: component(g, ty)))
    if depth > 0:
        options.append((5.0 if ty.is_scalar else 8.0, lambda: builtin_call(g, ty, depth)))
        if any(h.returns is ty for h in g.helpers):
            options.append((1.5, lambda: helper_call(g, ty, depth)))
        if constructible(ty):
            options.append((0.7, lambda: constructor(g, ty, depth)))
        if pending_leaves(g, None):
            options.append((3.0, lambda: flow_pending(g, ty)))
    if not live:
        constants = [c for c in g.scope.variables(ty) if c.constant]
        if constants:
            options.append((0.5, lambda: g.read(choice(g.ch, constants))))
        weight = (1.0 if depth == 0 else 0.3) if ty.is_scalar else 0.1
        options.append((weight if options else 1.0, lambda: literal(g, ty)))
    if options:
        for _ in range(4):
            made = g.ch.weighted([o[1] for o in options], [o[0] for o in options])()
            if made is not None and safety.fits(ty, made.bound) and (made.live or not live):
                return made
    return fallback(g, ty, live)


def fallback(g: Gen, ty: WType, live: bool) -> Expr:
    """A live value of `ty` from any variable or input (a flow), else a literal.

    Flows draw expressions that may fall back again: the nesting is bounded.
    """
    if live and g.fallbacks < MAX_FALLBACKS:
        g.fallbacks += 1
        try:
            sources = [g.read(v) for v in g.scope.values() if v.type is not BOOL]
            sources += [array_read(g, a) for a in g.scope.inputs]
            for source in sources[::-1]:
                made = flow(g, source, ty)
                if made is not None and safety.fits(ty, made.bound):
                    return made
        finally:
            g.fallbacks -= 1
    return literal(g, ty)


# ----------------------------------------------------------------------------- leaves


def literal(g: Gen, ty: WType) -> Expr:
    """A constant of type `ty`: a scalar literal, a splat `wp.vec3(0.5)`, an identity, or a constructor."""
    if ty.is_scalar:
        value = _scalar_value(g, ty)
        return Expr(number(ty, value), ty, int(abs(value)), span=spans.point(value))
    scalar = BY_WARP_NAME[ty.scalar]
    # a matrix is the identity or has components of its own: a splat `wp.mat22(0.25)` is singular
    # (its determinant, its products with vectors, flatten what they meet)
    if (ty.family == "mat" and (g.ch.boolean(0.4) or ty.length > 4)) or ty.length > 16:
        dtype = ast.Name(id="float", ctx=ast.Load()) if ty.scalar == "float32" else wp_attr(ty.scalar)
        return Expr(call("wp.identity", n=ast.Constant(ty.shape[0]), dtype=dtype), ty, span=(0.0, 1.0))
    if ty.family == "vec":  # a splat: every component the same
        value = _scalar_value(g, scalar)
        return Expr(call(ty.annotation, number(scalar, value)), ty, int(abs(value)), span=spans.point(value))
    values = [_scalar_value(g, scalar) for _ in range(ty.length)]
    node = call(ty.annotation, *(ast.Constant(v) for v in values))
    return Expr(node, ty, int(max(map(abs, values))), span=(min(values), max(values)))


def _scalar_value(g: Gen, ty: WType) -> float:
    """Never 0: a zero scale or offset leaves nothing of what it meets (`wp.vec3(0.0) / x`)."""
    if ty.kind == "int":
        return g.ch.integer(0 if is_unsigned(ty) else -8, 16) or 1
    if g.ch.boolean(0.6):
        return choice(g.ch, ROUND_FLOATS)
    return round(g.ch.real(-10.0, 10.0), 3)


def pending_leaves(g: Gen, ty: WType | None, calls: bool = True) -> list[Callable[[], Expr | None]]:
    """Makers of a leaf reading a pending value (of type `ty`; any type but bool for None);
    with `calls`, a call of a helper nothing calls yet is one too."""
    s = g.scope
    makers: list[Callable[[], Expr | None]] = [
        (lambda v=v: g.read(v))
        for v in s.pending_vars()
        if (v.type is ty if ty else v.type is not BOOL) and v.is_value
    ]
    makers += [(lambda a=a: array_read(g, a)) for a in s.pending_arrays() if ty is None or a.type.dtype is ty]
    if calls and not g.in_helper:
        makers += [
            (lambda h=h: call_helper(g, h, 1))
            for h in g.helpers
            if h.key in g.uncalled and h.returns is not None and (ty is None or h.returns is ty)
        ]
    return makers


def array_read(g: Gen, arr: Array) -> Expr:
    """`a[index]` on an input array."""
    index = [array_index(g, arr, d) for d in range(arr.type.ndim)]
    ty = arr.type.dtype
    node = subscript(arr.name, [i.node for i in index], ast.Load())
    bound = safety.settle(ty, safety.ARRAY_INT_BOUND)
    reads = frozenset({arr.key}).union(*(i.reads for i in index))
    return Expr(node, ty, bound, reads, live=True, tainted=True, span=spans.input_span(ty, array=True))


def array_index(g: Gen, arr: Array, dim: int) -> Expr:
    """A valid index along `dim`: the launch index, a loop over the extent, or a clamped int variable."""
    valid = g.scope.index_vars.get(dim, [])
    ints = [v for v in g.scope.values(INT32) if v.name not in valid]  # clamp(i, 0, n - 1) is i
    if valid and (not ints or g.ch.boolean(0.95)):
        name = choice(g.ch, valid)
        return g.read(next(v for v in g.scope.variables(INT32) if v.name == name))
    ints = ints or g.scope.values(INT32)
    pending = [v for v in ints if v.key in g.scope.pending]
    value = g.read(choice(g.ch, pending or ints))
    upper = binop(shape(arr.name, dim), ast.Sub(), ast.Constant(1))
    return Expr.of(call("wp.clamp", value.node, ast.Constant(0), upper), INT32, [value], safety.MAX_EXTENT)


def component_vars(g: Gen, ty: WType) -> list[Var]:
    """Vector and matrix variables with scalar components of type `ty` (transforms have parts)."""
    return [
        v
        for v in g.scope.variables()
        if not v.type.is_scalar and v.type.scalar == ty.warp_name and v.type.family != "transform"
    ]


def component(g: Gen, ty: WType) -> Expr:
    """`v[k]`, `v.x` or `M[r, c]`: a scalar component of a vector or matrix variable."""
    var = choice(g.ch, component_vars(g, ty))
    return component_of(g, g.read(var), ast.Load())


def component_of(g: Gen, whole: Expr, ctx: ast.expr_context) -> Expr:
    """A component of `whole` by index or attribute name (a transform's `p` or `q`)."""
    ty = whole.type
    attributes = ATTRIBUTES.get(ty.family, {})
    if ty.family == "transform" or (attributes and g.ch.boolean(0.4)):
        attr = choice(g.ch, sorted(a for a, n in attributes.items() if n <= ty.length))
        part = BY_WARP_NAME[
            {"p": f"vec3{SUFFIX[ty.scalar]}", "q": f"quat{SUFFIX[ty.scalar]}"}.get(attr, ty.scalar)
        ]
        node: ast.expr = ast.Attribute(value=whole.node, attr=attr, ctx=ctx)
    else:
        index = [ast.Constant(g.ch.integer(0, d - 1)) for d in ty.shape]
        slice_ = index[0] if len(index) == 1 else ast.Tuple(elts=index, ctx=ast.Load())
        node, part = ast.Subscript(value=whole.node, slice=slice_, ctx=ctx), BY_WARP_NAME[ty.scalar]
    bound = safety.settle(part, whole.bound) if part.is_int_based else 0
    return Expr.of(node, part, [whole], bound, whole.span)


# ----------------------------------------------------------------------------- calls


def allowed(g: Gen, b: Builtin) -> bool:
    """Whether the policy lets `b` appear: its types are the kernel's, its family is on."""
    return _allowed(b, g.allowance)


def _allowed(b: Builtin, allowance: Allowance) -> bool:
    types, differentiable, math = allowance
    needs, is_differentiable, is_math = _needs(b)
    return needs <= types and (is_differentiable or not differentiable) and (math or not is_math)


@cache
def _needs(b: Builtin) -> tuple[frozenset[WType], bool, bool]:
    """What a policy must allow for `b`: the types of its drawn arguments and results, whether it
    is differentiable (on floats too), whether it is a math builtin."""
    narrow = ARGUMENTS.get(b.name)
    drawn = [t for k, t in enumerate(b.params) if narrow is None or k not in narrow.positions]
    types = frozenset(t for t in (*drawn, *b.results) if t is not BOOL)
    differentiable = b.differentiable and b.name not in nondifferentiable_on_floats()
    return types, differentiable, b.name in math_builtin_names()


def candidates(g: Gen, ty: WType) -> tuple[tuple[Builtin, ...], ...]:
    """Allowed builtins returning `ty`, grouped by name in registry order.

    Drawing a name first, then one of its overloads, gives every builtin the same chance
    whatever its number of overloads (`where` has hundreds).
    """
    return _candidates(ty, g.allowance)


@lru_cache(maxsize=4096)  # kernels share type universes: memoised across kernels
def _candidates(ty: WType, allowance: Allowance) -> tuple[tuple[Builtin, ...], ...]:
    groups: dict[str, list[Builtin]] = {}
    for b in builtins_returning(ty.warp_name):
        if _allowed(b, allowance):
            groups.setdefault(b.name, []).append(b)
    return tuple(tuple(group) for group in groups.values())


def builtin_call(g: Gen, ty: WType, depth: int) -> Expr | None:
    """An operator or `wp.` function returning `ty`, with guarded arguments."""
    groups = candidates(g, ty)
    if not groups:
        return None
    return apply(g, choice(g.ch, choice(g.ch, groups)), depth)


def apply(g: Gen, b: Builtin, depth: int, fixed: dict[int, Expr] | None = None) -> Expr | None:
    """`b` called with `fixed` arguments where given, drawn ones elsewhere; None if it cannot be."""
    fixed = dict(fixed or {})
    narrow = ARGUMENTS.get(b.name)
    if narrow is not None:
        for k, value in zip(narrow.positions, narrow.draw(g.ch), strict=True):
            fixed.setdefault(k, _literal(b.params[k], value))
    free = [k for k in range(len(b.params)) if k not in fixed]
    anchor = -1 if any(e.live for e in fixed.values()) or not free else choice(g.ch, free)
    values, args = [], []
    for k in range(len(b.params)):
        live = k == anchor or k in DECIDING.get(b.name, ())
        value = fixed[k] if k in fixed else unguarded_argument(g, b, k, depth - 1, live)
        arg = guarded(g, b, k, value)
        if arg is None:
            return None
        values.append(value)
        args.append(arg)
    # repeats before guards too: `x % wp.max(wp.abs(x), 1)` is always 0
    guards = any(a.node is not v.node for a, v in zip(args, values, strict=True))
    if not any(a.live for a in args) or _repeats(b, values) or (guards and _repeats(b, args)):
        return None
    bound = 0
    if b.returns.is_int_based:
        raw = INT_RANGE[b.name](*(max(a.bound, 1) for a in args))
        if not safety.fits(b.returns, raw):
            return None
        bound = safety.settle(b.returns, raw)
    span = span_of(b, args)
    if not observable(g, b, args, span):
        return None
    return Expr.of(_spell(b, [a.node for a in args]), b.returns, args, bound, span)


def span_of(b: Builtin, args: list[Expr]) -> spans.Span | None:
    """The span of `b`'s result on `args` (`VALUE_RANGE`); a repeated factor is a square."""
    rule = VALUE_RANGE.get(b.name)
    if rule is None or (not b.returns.is_scalar and any(t.kind == "matrix" for t in b.params)):
        return None  # unknown, or a matrix product (sums of products)
    if b.name in ("mul", "dot", "outer") and same(args[0].node, args[1].node) and args[0].span is not None:
        span: spans.Span | None = spans.square(args[0].span)
    else:
        span = rule(*(a.span for a in args))
    if b.name in SUMMED and span is not None:
        n = b.params[0].length
        span = (n * span[0], n * span[1])
    return span


def observable(g: Gen, b: Builtin, args: list[Expr], span: spans.Span | None) -> bool:
    """Whether the call's value may still change with its arguments when run: not a constant
    (`wp.sign(wp.exp(x))`), not a `min`/`max` whose arguments never cross (nor are the same
    values, `wp.max(y, 15) < y`), not a `where` whose test is settled."""
    if spans.settled(span) and any(a.live for a in args):
        return False
    if b.name in ("min", "max") and len(args) == 2:
        return spans.overlapping(args[0].span, args[1].span) and not _shared(g, args[0], args[1])
    if b.name == "where":
        return not spans.settled(args[0].span)
    if b.name == "clamp":  # bounds in order, and a value that reaches between them
        lo, hi = args[1].span, args[2].span
        inside = spans.overlapping(args[0].span, spans.hull(lo, hi), margin=0.0)
        return (lo is None or hi is None or lo[1] < hi[0]) and inside
    if b.name == "abs":  # not the identity
        return args[0].span is None or args[0].span[0] < 0
    if b.name in ("sign", "step"):
        return spans.straddles(args[0].span)
    return True


def _shared(g: Gen, a: Expr, b: Expr) -> bool:
    """Two values reading a common variable or input: their order may be fixed whatever the spans
    say (`wp.dot(x, x)` against `x.z`); launch indices and loop variables (indices) excepted."""
    indices = {v.key for v in g.scope.variables(INT32) if not v.mutable and not v.tainted}
    return bool((g.sources(a) & g.sources(b)) - indices)


def argument(g: Gen, b: Builtin, position: int, depth: int, live: bool) -> Expr | None:
    """Argument `position` of `b`, drawn and guarded."""
    return guarded(g, b, position, unguarded_argument(g, b, position, depth, live))


def unguarded_argument(g: Gen, b: Builtin, position: int, depth: int, live: bool) -> Expr:
    """A value for argument `position` of `b`, before `guarded` puts it in the argument's domain."""
    ty = b.params[position]
    if b.family == "Random" and position == 0 and g.rng is not None and ty is UINT32:
        return g.read(g.rng)  # the thread's random state
    return expression(g, ty, max(depth, 0), live)


def guarded(g: Gen, b: Builtin, position: int, value: Expr) -> Expr | None:
    """`value` as argument `position` of `b`, within the argument's domain (`SAFETY`)."""
    name = value.node.id if isinstance(value.node, ast.Name) else None
    if b.name in CONVERSIONS and name in g.unrolled:
        return None  # Warp 1.19 retypes the loop variable or constant (docs/warp_findings)
    if b.family == "Random" and position == 0 and any(c.name == name for c in g.constants):
        return None  # a constant state does not compile (docs/warp_findings/random_state_constant.py)
    kinds = SAFETY.get(b.name, ())
    kind = kinds[position] if position < len(kinds) else None
    # a constant in the domain: `x / 2.0`, not `x / (wp.abs(2.0) + 1.0)`
    if kind is not None and not value.live and value.type.is_scalar:
        in_domain = safety.IN_DOMAIN[kind]
        value = Expr(number(b.params[position], in_domain), b.params[position], int(in_domain))
        value, kind = replace(value, span=spans.point(in_domain)), None
    made = safety.guard(kind, value.node, b.params[position], value.bound)
    if made is None:
        return None
    span = safety.guarded_span(kind, value.span, b.params[position])
    if value.live and spans.settled(span) and not spans.settled(value.span):
        return None  # the guard flattens it: `x // wp.max(wp.abs(int(c)), 1)` divides by 1
    return Expr(made[0], b.params[position], made[1], value.reads, value.live, value.tainted, span)


def _repeats(b: Builtin, args: list[Expr]) -> bool:
    """Two identical arguments where that cancels or is idempotent (`x - x`, `wp.where(c, 1, 1)`)."""
    if b.name in REPEAT_OK or len(args) < 2:
        return False
    return any(same(a.node, b.node) for k, a in enumerate(args) for b in args[k + 1 :])


def _spell(b: Builtin, args: list[ast.expr]) -> ast.expr:
    if b.name in BINARY_OPERATORS:
        return binop(args[0], BINARY_OPERATORS[b.name](), args[1])
    if b.name in UNARY_OPERATORS:
        return ast.UnaryOp(op=UNARY_OPERATORS[b.name](), operand=args[0])
    return call(b.spelling, *args)


def helper_call(g: Gen, ty: WType, depth: int) -> Expr | None:
    helper = choice(g.ch, [h for h in g.helpers if h.returns is ty])
    return call_helper(g, helper, depth)


def call_helper(g: Gen, helper: Helper, depth: int) -> Expr | None:
    """`name(args)`: the first argument live; int arguments within the bound the helper assumes."""
    args = []
    for k, ty in enumerate(helper.params):
        arg = expression(g, ty, depth - 1, live=k == 0)
        if ty.is_int_based and arg.bound > safety.VAR_BOUND:
            arg = narrowed(g, arg)
        args.append(arg)
    if not any(a.live for a in args):
        return None
    ty = helper.returns or helper.results[0]
    called = Expr.of(call(helper.name, *(a.node for a in args)), ty, args, helper.bound)
    return Expr(called.node, ty, called.bound, called.reads | {helper.key}, True, called.tainted)


def constructible(ty: WType) -> bool:
    """Vector-like types built from their components (`wp.vec3(x, y, 0.0)`)."""
    return ty.kind == "vector" and ty.length <= 7


def constructor(g: Gen, ty: WType, depth: int, fixed: Expr | None = None) -> Expr | None:
    """`T(a, b, ...)` from scalar components, one of them live (`fixed` if given)."""
    scalar = BY_WARP_NAME[ty.scalar]
    slot = g.ch.integer(0, ty.length - 1)
    parts = [
        (fixed or expression(g, scalar, depth - 1, live=True))
        if k == slot
        else expression(g, scalar, 0, live=False)
        for k in range(ty.length)
    ]
    if any(p.type is not scalar for p in parts):
        return None
    bound = max(p.bound for p in parts) if scalar.is_int_based else 0
    return Expr.of(call(ty.annotation, *(p.node for p in parts)), ty, parts, bound)


def narrowed(g: Gen, value: Expr, target: int | None = None) -> Expr:
    """An int value brought within `target` (a round number if not given) by remainder or clamp."""
    modulus = target is None and g.ch.boolean()
    target = target or choice(g.ch, safety.NARROW_TARGETS)
    node, bound = safety.narrow(value.node, value.type, target, modulus=modulus)
    return Expr(node, value.type, bound, value.reads, value.live, value.tainted)


# ----------------------------------------------------------------------------- conditions


def condition(g: Gen, depth: int) -> Expr:
    """A boolean: a comparison of a live value, or (with `compound`) and/or/not of conditions."""
    if depth > 0 and g.policy.on("compound") and g.ch.boolean(0.5):
        if g.ch.boolean(0.2):
            inner = condition(g, depth - 1)
            return Expr.of(ast.UnaryOp(op=ast.Not(), operand=inner.node), BOOL, [inner])
        parts = [condition(g, depth - 1), condition(g, depth - 1)]
        op = ast.And() if g.ch.boolean() else ast.Or()
        return Expr.of(ast.BoolOp(op=op, values=[p.node for p in parts]), BOOL, parts)
    if candidates(g, BOOL) and g.ch.boolean(0.15):  # wp.isnan(x), not x ...
        predicate = builtin_call(g, BOOL, 1)
        if predicate is not None:
            return predicate
    ty = choice(g.ch, [t for t in g.types if t.is_scalar])
    return compare(g, expression(g, ty, 1, live=True))


def compare(g: Gen, left: Expr) -> Expr:
    """`left < right` (or another comparison) of a scalar; maybe chained, `lo < left < hi`.

    Neither outcome is settled before run time: a literal lies inside `left`'s span, and a runtime
    value that never crosses `left`, or reads what `left` reads, gives way to such a literal.
    """
    ty = left.type
    ops = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq) if ty.kind == "int" else (ast.Lt, ast.Gt)
    if g.policy.on("compound") and left.live and g.ch.boolean(0.2):
        # chained: lo < x < hi (x live: a constant between two literals decides nothing).
        # Warp 1.19 rejects an array element (or struct field)
        # anywhere in a chain (docs/warp_findings), so none of the three is one.
        lo, hi = sorted((_threshold(g, expression(g, ty, 0), left) for _ in range(2)), key=_low_end)
        distinct = not (same(lo.node, left.node) or same(left.node, hi.node) or same(lo.node, hi.node))
        if distinct and not any(isinstance(e.node, ast.Subscript | ast.Attribute) for e in (lo, left, hi)):
            node = ast.Compare(left=lo.node, ops=[ast.Lt(), ast.Lt()], comparators=[left.node, hi.node])
            return Expr.of(node, BOOL, [lo, left, hi], span=(0.0, 1.0))
    # mostly two runtime values: a literal lies outside the range of many values (`wp.exp(x) < -1.0`)
    right = _threshold(g, expression(g, ty, 0, live=not left.live or g.ch.boolean(0.6)), left)
    for _ in range(0 if left.live else 3):  # a constant on the left (it must be read): a value crossing it
        if _decides(right, left):
            break
        right = expression(g, ty, 1, live=True)
    crossing = spans.overlapping(left.span, right.span) and not _shared(g, left, right)
    if (
        same(right.node, left.node)
        or (left.live and right.live and not crossing)
        or (left.live and not _decides(left, right))  # a module constant outside `left`'s values
    ):
        right = _threshold(g, literal(g, ty), left)
    if not (left.live and right.live):  # a value rarely equals a constant: `b[i] != -6` is all but constant
        ops = tuple(op for op in ops if op not in (ast.Eq, ast.NotEq))
        ops = tuple(op for op in ops if _open(op, left.span, right.span)) or ops
    op = choice(g.ch, ops)
    node = ast.Compare(left=left.node, ops=[op()], comparators=[right.node])
    return Expr.of(node, BOOL, [left, right], span=_truth(op, left.span, right.span))


def _decides(value: Expr, fixed: Expr) -> bool:
    """Whether a comparison of a runtime `value` with a value `fixed` before run time (a literal or
    a module constant) may come out either way: the fixed value lies inside `value`'s span (a
    float's with the margin), `wp.where(BIAS < c, ...)` with `c` at most `BIAS` decides nothing."""
    if value.span is None or fixed.span is None:
        return True
    if spans.width(fixed.span) > 0:
        return spans.overlapping(value.span, fixed.span)
    at = fixed.span[0]
    if value.type.kind == "float":
        return spans.straddles(value.span, at)
    return value.span[0] <= at <= value.span[1] and spans.width(value.span) > 0


def _low_end(e: Expr) -> float:
    return e.span[0] if e.span is not None else 0.0


def _threshold(g: Gen, value: Expr, left: Expr) -> Expr:
    """`value`, or for a literal one inside `left`'s span (`x > 10.0` would decide nothing): a
    round float where one fits, else a point away from the ends; for a float of unknown span, one
    where floats lie (inputs are within +-2)."""
    if value.reads or not value.type.is_scalar or value.type.kind not in ("int", "float"):
        return value
    ty, span = value.type, left.span
    if span is None or spans.width(span) <= 0:
        return value if ty.kind == "int" else _literal(ty, choice(g.ch, THRESHOLDS))
    if ty.kind == "float":
        round_ = [t for t in THRESHOLDS if spans.straddles(span, t)]
        if round_ and g.ch.boolean(0.7):
            return _literal(ty, choice(g.ch, round_))
        return _literal(ty, round(span[0] + spans.width(span) * g.ch.real(0.3, 0.7), 3))
    lo, hi = math.ceil(span[0]), math.floor(span[1])
    if hi <= lo:
        return value
    margin = int(spans.MARGIN * (hi - lo))
    return _literal(ty, g.ch.integer(lo + margin, hi - margin))


def _literal(ty: WType, value: float) -> Expr:
    return Expr(number(ty, value), ty, int(abs(value)), span=spans.point(value))


#: `a > b` is `b < a`, `a >= b` is `b <= a`.
_FLIPPED = {ast.Gt: ast.Lt, ast.GtE: ast.LtE}


def _truth(op: type[ast.cmpop], a: spans.Span | None, b: spans.Span | None) -> spans.Span:
    """The span of a comparison's truth value: (1, 1) always true, (0, 0) never, else (0, 1)."""
    if op in _FLIPPED:
        op, a, b = _FLIPPED[op], b, a
    if a is None or b is None or op not in (ast.Lt, ast.LtE):
        return (0.0, 1.0)
    if a[1] < b[0] or (op is ast.LtE and a[1] == b[0]):
        return (1.0, 1.0)
    if a[0] > b[1] or (op is ast.Lt and a[0] == b[1]):
        return (0.0, 0.0)
    return (0.0, 1.0)


def _open(op: type[ast.cmpop], a: spans.Span | None, b: spans.Span | None) -> bool:
    """Whether `a op b` may come out either way."""
    return not spans.settled(_truth(op, a, b))


# ----------------------------------------------------------------------------- data flow


#: A builtin and the position of its argument a value flows through.
Bridge = tuple[Builtin, int]


def bridges(g: Gen, source: Expr, target: WType) -> tuple[tuple[Bridge, ...], ...]:
    """Allowed builtins returning `target` with a parameter of `source`'s type, and its position,
    grouped by name (so each builtin is as likely, whatever its number of overloads); a constant
    takes no position that decides (`wp.where(LIMIT, a, b)` decides nothing)."""
    return _bridges(source.type, target, g.allowance, source.live)


@lru_cache(maxsize=8192)
def _bridges(
    source: WType, target: WType, allowance: Allowance, live: bool
) -> tuple[tuple[tuple[Builtin, int], ...], ...]:
    found = (
        tuple(
            (b, k)
            for b in group
            for k in _free_positions(b)
            if b.params[k] is source and (live or k not in DECIDING.get(b.name, ()))
        )
        for group in _candidates(target, allowance)
    )
    return tuple(group for group in found if group)


@cache
def _free_positions(b: Builtin) -> tuple[int, ...]:
    """Argument positions a value may take (not those a `NarrowArguments` rule fixes)."""
    narrow = ARGUMENTS.get(b.name)
    return tuple(k for k in range(len(b.params)) if narrow is None or k not in narrow.positions)


def flow(g: Gen, source: Expr, ty: WType, hops: int = 2) -> Expr | None:
    """An expression of type `ty` that depends on `source`."""
    if source.type is ty:
        return source
    routes: list[tuple[float, Callable[[], Expr | None]]] = []
    direct = bridges(g, source, ty)
    if direct:
        routes.append((3.0, lambda: _through(g, choice(g.ch, choice(g.ch, direct)), source)))
    if source.type.is_scalar and constructible(ty) and ty.scalar == source.type.warp_name:
        routes.append((1.5, lambda: constructor(g, ty, 1, fixed=source)))
    if not source.type.is_scalar and hops > 0:
        routes.append((1.0, lambda: _via_component(g, source, ty, hops)))
    if source.type.is_scalar and source.type is not BOOL and hops > 0:  # through a test: `int(x > 0.5)`
        weight = 0.05 if g.policy.differentiable else 0.7  # a test's derivative is zero
        routes.append((weight, lambda: flow(g, compare(g, source), ty, hops - 1)))
    for _ in range(3):
        if not routes:
            return None
        made = g.ch.weighted([r[1] for r in routes], [r[0] for r in routes])()
        if made is not None and safety.fits(ty, made.bound):
            return made
    return _via_component(g, source, ty, hops) if not source.type.is_scalar and hops > 0 else None


def _through(g: Gen, bridge: tuple[Builtin, int], source: Expr) -> Expr | None:
    b, position = bridge
    return apply(g, b, 1, fixed={position: source})


def _via_component(g: Gen, source: Expr, ty: WType, hops: int) -> Expr | None:
    part = component_of(g, source, ast.Load())
    return flow(g, part, ty, hops - 1)


def _where(g: Gen, ty: WType) -> Builtin | None:
    """The overload `wp.where(bool, ty, ty) -> ty`, if the policy allows it."""
    overloads = (b for group in candidates(g, ty) for b in group if b.name == "where")
    return next((b for b in overloads if b.params[0] is BOOL), None)


def flow_pending(g: Gen, ty: WType) -> Expr | None:
    """A pending value of another type, turned into `ty`."""
    source = choice(g.ch, pending_leaves(g, None))()
    return None if source is None else flow(g, source, ty)


def combine(g: Gen, a: Expr, b: Expr, accumulate: bool = False, from_zero: bool = False) -> Expr:
    """One value of `a`'s type from `a` and `b` (same type): `a + b`, `a * b`, `wp.max(a, b)` ...

    `accumulate`: `a` is a running value (`acc`) that may still be zero: under a differentiable
    policy it is added to or subtracted from (a product with zero would lose `b`'s derivative).
    `from_zero`: `a` still holds its zero start: added to or subtracted from under any policy
    (`acc = wp.cw_mul(acc, h)` would stay zero whatever `h` is).
    """
    ty = a.type
    binary = [o for group in candidates(g, ty) for o in group if o.params == (ty, ty)]
    if (accumulate and g.policy.differentiable) or from_zero:
        binary = [o for o in binary if o.name in ("add", "sub")] or binary
    weights = [COMBINERS.get(o.name, 1.0) for o in binary]
    for _ in range(4):
        if not binary:
            break
        made = apply(g, g.ch.weighted(binary, weights), 1, fixed={0: a, 1: b})
        if made is not None:
            return made
    if ty.is_int_based and ty.is_scalar and max(a.bound, b.bound) > 1024:  # too large for any operator
        return combine(g, *(narrowed(g, e, 1024) if e.bound > 1024 else e for e in (a, b)))
    return Expr.of(binop(a.node, ast.Add(), b.node), ty, [a, b], a.bound + b.bound)


def gather(g: Gen, ty: WType, sources: list[Expr]) -> Expr:
    """One expression of type `ty` that depends on every one of `sources`."""
    total: Expr | None = None
    for source in sources:
        part = flow(g, source, ty)
        if part is not None:
            total = part if total is None else combine(g, total, part)
        else:  # no value of `ty` comes from it: it decides between two
            total = steer(g, total or expression(g, ty, 1, live=True), source)
    return total if total is not None else expression(g, ty, 1, live=True)


def steer(g: Gen, value: Expr, source: Expr) -> Expr:
    """`wp.where(source > c, value, other)`: `value`, or another value of its type, as `source` says."""
    test = compare(g, _scalar_of(g, source))
    where = _where(g, value.type)
    for _ in range(4 if where else 0):
        other = expression(g, value.type, 0)
        made = apply(g, where, 1, fixed={0: test, 1: value, 2: other})  # type: ignore[arg-type]
        if made is not None:
            return made
    node = ast.IfExp(test=test.node, body=value.node, orelse=literal(g, value.type).node)
    return Expr.of(node, value.type, [test, value], value.bound)


def _scalar_of(g: Gen, value: Expr) -> Expr:
    """A scalar that depends on `value` (itself, or one of its components)."""
    while not value.type.is_scalar:
        value = component_of(g, value, ast.Load())
    return value
