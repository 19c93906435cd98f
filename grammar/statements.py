"""Statements: one table of statement kinds, blocks drawn from it, and compound statements.

`KINDS` is the grammar of statements (YARPGen's typed distributions): each
row gives a kind's weight, the policy switches that enable it, whether it
opens a block, whether helpers may use it, which switch makes it mandatory,
and its production.  Policies, dispatch and nesting all read the table:
adding a statement kind is adding a row (and its production).

A block that closes folds the values still pending in it into a variable
outside it (`acc = acc + v` at the end of a loop body), declared just before
the compound statement if the scope has none: so a value computed in a
branch or a loop reaches the rest of the kernel.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from grammar import safety, spans
from grammar.astnodes import binop, call, load, number, shape, store, subscript
from grammar.choices import Choices, choice
from grammar.context import Expr, Gen, Var
from grammar.expressions import combine, condition, gather, literal
from grammar.geometry import geometry_statement
from grammar.names import COUNTER_NAMES, LOOP_NAMES, VAR_NAMES
from grammar.policy import Policy
from grammar.simple import (
    address_offset,
    assign,
    assignable,
    atomic,
    augassign,
    break_continue,
    component_store,
    declare,
    declare_kind,
    math_declaration,
    output_store,
    select,
    struct_local,
    unpack,
)
from grammar.spans import Span
from grammar.types import BOOL, BY_WARP_NAME, FLOAT32, INT32, WType

Production = Callable[[Gen], list[ast.stmt]]


@dataclass(frozen=True)
class StatementKind:
    name: str
    weight: float  # relative weight before the policy's jitter (0: only when required)
    production: Production
    switches: frozenset[str] = frozenset()  # any one of them enables the kind (none: always)
    compound: bool = False  # opens a block: bounded by depth and the compound budget
    in_helpers: bool = True  # may appear in a @wp.func body
    required_by: str = ""  # a switch that makes at least one mandatory in the kernel
    in_loops: bool = False  # only inside a loop body
    differentiable: bool = True  # allowed under a differentiable policy


def _kind(name: str, weight: float, production: Production, *switches: str, **flags: object) -> StatementKind:
    return StatementKind(name, weight, production, frozenset(switches), **flags)  # type: ignore[arg-type]


def if_statement(g: Gen) -> list[ast.stmt]:
    """`if c: ... [elif c: ...]* [else: ...]`."""
    test = condition(g, 1 if g.policy.on("compound") else 0)
    node = g.use(test)
    before = _values(g)
    body = nested(g, lambda: inner_block(g), tainted=test.tainted)
    after_body = _values(g)
    _restore(before)  # the else branch starts from the values before the if, not from the body's
    orelse: list[ast.stmt] = []
    if g.policy.on("elifs") and g.compounds < MAX_COMPOUND_STATEMENTS and g.ch.boolean(0.8):
        orelse = nested(g, lambda: if_statement(g), tainted=test.tainted)
    elif g.ch.boolean(0.35):
        orelse = nested(g, lambda: inner_block(g), tainted=test.tainted)
    for var, span, zero in after_body:  # after the if: what either branch may leave
        var.span, var.zero = spans.hull(var.span, span), var.zero and zero
    return [*g.take_prelude(), ast.If(test=node, body=body, orelse=orelse)]


def _values(g: Gen) -> list[tuple[Var, Span | None, bool]]:
    """What is known of each variable's value now: its span, whether it still holds its zero."""
    return [(v, v.span, v.zero) for v in g.scope.variables() if v.mutable]


def _restore(known: list[tuple[Var, Span | None, bool]]) -> None:
    for var, span, zero in known:
        var.span, var.zero = span, zero


def for_statement(g: Gen) -> list[ast.stmt]:
    """`for k in range(bound)`: a constant, `wp.static(...)`, an int parameter, or an array extent."""
    s = g.scope
    ranges: list[str] = []
    if s.unrolled * 4 <= MAX_UNROLLED:
        ranges += ["const", "static"]
    dynamic_ok = s.trips * safety.MAX_EXTENT <= safety.MAX_TRIPS and not g.policy.differentiable
    int_params = [v for v in s.variables(INT32) if not v.mutable and not v.constant and v.name not in s.tid]
    if dynamic_ok:
        ranges += ["param"] * bool(int_params) + ["shape"] * bool(s.inputs)
    if not ranges:
        return declare(g)
    kind = g.ch.weighted(ranges, [LOOP_RANGES[r] for r in ranges])
    dim = g.ch.integer(0, g.policy.launch_ndim - 1)
    bound, trips = _loop_bound(g, kind, int_params, dim)
    loop_var = g.names.fresh(LOOP_NAMES)
    if kind in ("const", "static"):
        g.unrolled.add(loop_var)

    def body() -> list[ast.stmt]:
        s.declare(Var(loop_var, INT32, mutable=False, bound=trips, span=_loop_span(kind, bound)))
        if kind == "shape":
            s.index_vars.setdefault(dim, []).append(loop_var)
        try:
            return inner_block(g)
        finally:
            if kind == "shape":
                s.index_vars[dim].remove(loop_var)

    unroll = trips if kind in ("const", "static") else 1
    s.unrolled *= unroll
    stmts = nested(g, body, loop_trips=trips, tainted=bound.tainted)
    s.unrolled //= unroll
    loop = ast.For(target=store(loop_var), iter=call("range", g.use(bound)), body=stmts, orelse=[])
    return [*g.take_prelude(), loop]


def _loop_span(kind: str, bound: Expr) -> Span | None:
    """Where a loop variable lies: 0 up to the last trip (an extent or int parameter as drawn)."""
    last = spans.INPUT_SPANS["index" if kind == "shape" else "int_param"][1]
    if kind in ("const", "static") and bound.span is not None:
        last = bound.span[1] - 1
    return (0.0, max(last, 0.0))


def _loop_bound(g: Gen, kind: str, int_params: list[Var], dim: int) -> tuple[Expr, int]:
    """The `range` argument of a loop of `kind`, and its trip-count bound."""
    if kind == "const":
        n = g.ch.integer(2, 4)
        return Expr(ast.Constant(n), INT32, n, span=spans.point(n)), n
    if kind == "static":
        return static_bound(g, g.ch.integer(2, 4))
    if kind == "param":
        return g.read(choice(g.ch, int_params)), safety.MAX_EXTENT
    array = choice(g.ch, g.scope.inputs)
    return Expr(shape(array.name, dim), INT32, safety.MAX_EXTENT, frozenset(), True, False), safety.MAX_EXTENT


def static_bound(g: Gen, n: int) -> tuple[Expr, int]:
    """`wp.static(n)` or `wp.static(CONST + n)`: a trip count evaluated at code generation."""
    constants = [c for c in g.constants if c.type is INT32 and c.bound <= 2]
    if constants and g.ch.boolean(0.6):
        const = choice(g.ch, constants)
        node = call("wp.static", binop(load(const.name), ast.Add(), ast.Constant(n)))
        span = spans.ADD(const.span, spans.point(n))
        return Expr(node, INT32, const.bound + n, frozenset({const.key}), span=span), const.bound + n
    return Expr(call("wp.static", ast.Constant(n)), INT32, n, span=spans.point(n)), n


def while_statement(g: Gen) -> list[ast.stmt]:
    """`w = int(0)`, then `while w < C: w += 1; ...` (bounded by construction)."""
    if g.int_augassigns >= safety.MAX_INT_AUGASSIGNS or g.scope.trips * 8 > safety.MAX_TRIPS:
        return for_statement(g) if g.policy.on("loops") else declare(g)
    g.int_augassigns += 1
    counter = g.names.fresh(COUNTER_NAMES)
    limit = g.ch.integer(2, 6)
    g.scope.declare(Var(counter, INT32, mutable=False, bound=limit, span=(0.0, limit)), pending=False)
    test: ast.expr = ast.Compare(left=load(counter), ops=[ast.Lt()], comparators=[ast.Constant(limit)])
    tainted = False
    if g.policy.on("compound") and g.ch.boolean(0.3):
        extra = condition(g, 0)
        test, tainted = ast.BoolOp(op=ast.And(), values=[test, g.use(extra)]), extra.tainted
    step = ast.AugAssign(target=store(counter), op=ast.Add(), value=ast.Constant(1))
    body = nested(g, lambda: inner_block(g), loop_trips=limit, tainted=tainted)
    init = ast.Assign(targets=[store(counter)], value=call("int", ast.Constant(0)))
    return [init, *g.take_prelude(), ast.While(test=test, body=[step, *body], orelse=[])]


def nested_statement(g: Gen) -> list[ast.stmt]:
    """A loop or if whose body holds another loop or if (the pair `block` chose, if it did)."""
    outer, inner = g.nesting or (
        choice(g.ch, [k for k in ("for", "if", "while") if k in g.weights]),
        choice(g.ch, [k for k in ("for", "if") if k in g.weights]),
    )
    g.nesting = None
    g.required.append(inner)
    return BY_NAME[outer].production(g)


def _geometry(g: Gen) -> list[ast.stmt]:
    """A query of a geometry handle (`grammar.geometry`; its query loops' bodies from `loop_body`)."""
    return geometry_statement(g, loop_body)


#: The statement kinds.  Kinds with weight 0 appear only where a policy requires them.
KINDS: tuple[StatementKind, ...] = (
    _kind("declare", 3.0, declare),
    _kind("assign", 1.2, assign),
    _kind("augassign", 1.5, augassign),
    _kind("select", 0.6, select, "ifs"),
    _kind("store", 0.5, output_store, in_helpers=False),
    _kind("component_store", 0.7, component_store, "vectors", "matrices", "structs", differentiable=False),
    _kind("unpack", 0.6, unpack, "helpers", "matrices"),
    _kind("struct_local", 0.5, struct_local, "structs"),
    _kind("address", 0.3, address_offset, in_helpers=False, differentiable=False),
    _kind("atomic", 1.5, atomic, "atomics", in_helpers=False, required_by="atomics"),
    _kind("if", 1.5, if_statement, "ifs", compound=True, in_helpers=False, required_by="ifs"),
    _kind("for", 1.5, for_statement, "loops", compound=True, in_helpers=False, required_by="loops"),
    _kind("while", 1.2, while_statement, "whiles", compound=True, in_helpers=False, required_by="whiles"),
    _kind("break", 0.4, break_continue, "break_continue", in_helpers=False, in_loops=True),
    _kind("nest", 0.0, nested_statement, "nesting", compound=True, in_helpers=False, required_by="nesting"),
    _kind("math", 0.0, math_declaration, "math", required_by="math"),
    _kind("geometry", 0.8, _geometry, "geometry", in_helpers=False, required_by="geometry"),
    _kind("vector", 0.0, lambda g: declare_kind(g, "vector"), "vectors", required_by="vectors"),
    _kind("matrix", 0.0, lambda g: declare_kind(g, "matrix"), "matrices", required_by="matrices"),
)
BY_NAME = {k.name: k for k in KINDS}

#: Blocks (bodies of if/elif/else, for, while) after which no further compound statement is drawn.
MAX_COMPOUND_STATEMENTS = 4
#: Relative weights of `range` arguments: a constant or `wp.static` range is unrolled (code size).
LOOP_RANGES = {"const": 0.6, "static": 0.4, "param": 1.5, "shape": 1.5}
#: Most copies of a statement that nested unrolled loops (constant or `wp.static` ranges) may make.
MAX_UNROLLED = 8


def enabled(kind: StatementKind, policy: Policy) -> bool:
    """Whether `policy` lets `kind` appear at all."""
    if policy.differentiable and not kind.differentiable:
        return False
    return not kind.switches or any(policy.on(s) for s in kind.switches)


def draw_weights(ch: Choices, policy: Policy) -> dict[str, float]:
    """Weights of the kinds `policy` enables, each jittered (swarm testing)."""
    return {k.name: k.weight * ch.real(0.25, 1.75) for k in KINDS if k.weight > 0 and enabled(k, policy)}


def required_kinds(policy: Policy) -> list[str]:
    """Kinds the policy's switches make mandatory (at least one each per kernel)."""
    return [k.name for k in KINDS if k.required_by and policy.on(k.required_by) and enabled(k, policy)]


# ----------------------------------------------------------------------------- blocks


def block(g: Gen, n: int, required: list[str] | None = None, helper: bool = False) -> list[ast.stmt]:
    """`n` statements, one of each `required` kind among them (at random places), more if need be."""
    musts = [*(required or []), *g.required]
    g.required = []
    compound = [k for k in musts if k in ("for", "if", "while")]
    if "nest" in musts and len(compound) >= 2:  # the nesting holds two of the required compounds
        g.nesting = (compound[-1], compound[0]) if compound[0] != "while" else (compound[0], compound[-1])
        musts = [k for k in musts if k not in g.nesting] + [k for k in g.nesting if musts.count(k) > 1]
    kinds: list[str | None] = [None] * max(0, n - len(musts))
    for name in musts:
        kinds.insert(g.ch.integer(0, len(kinds)), name)
    stmts: list[ast.stmt] = []
    for name in kinds:
        stmts += BY_NAME[name or draw_kind(g, helper)].production(g)
    return stmts


def draw_kind(g: Gen, helper: bool) -> str:
    s = g.scope
    closed = helper or s.block_depth >= g.policy.max_block_depth or g.compounds >= MAX_COMPOUND_STATEMENTS
    weights = {
        name: w
        for name, w in g.weights.items()
        if not (closed and BY_NAME[name].compound)
        and not (helper and not BY_NAME[name].in_helpers)
        and not (BY_NAME[name].in_loops and not s.loop_depth)
    }
    if s.block_depth and any(v.mutable for frame in s.frames[:-1] for v in frame):
        for name in UPDATES:  # inside a block, updating an outer variable is how code carries values out
            if name in weights:
                weights[name] *= 3
    names = sorted(weights)
    return g.ch.weighted(names, [weights[n] for n in names])


#: Kinds that update an existing variable (likelier inside blocks).
UPDATES = ("assign", "augassign")


def inner_block(g: Gen) -> list[ast.stmt]:
    """The body of a compound statement."""
    return block(g, 1 + g.ch.boolean(0.1))


def loop_body(g: Gen, prelude: Callable[[], list[ast.stmt]], trips: int) -> list[ast.stmt]:
    """A query loop's body (`grammar.geometry.LoopBody`): `prelude`, then a block, one loop deeper."""
    return nested(g, lambda: prelude() + inner_block(g), loop_trips=trips, tainted=True)


def nested(
    g: Gen, body: Callable[[], list[ast.stmt]], *, loop_trips: int = 0, tainted: bool
) -> list[ast.stmt]:
    """Run `body` one block deeper (inside a new frame, maybe inside a loop), then fold what it leaves."""
    g.compounds += 1
    s = g.scope
    s.frames.append([])
    s.block_depth += 1
    s.control.append(tainted)
    if loop_trips:
        s.loop_depth += 1
        s.trips *= loop_trips
    try:
        stmts = body()
        stmts += fold_frame(g)
        return stmts or [ast.Pass()]
    finally:
        s.frames.pop()
        s.block_depth -= 1
        s.control.pop()
        if loop_trips:
            s.loop_depth -= 1
            s.trips //= loop_trips


def fold_frame(g: Gen) -> list[ast.stmt]:
    """`carrier = carrier + f(v, ...)`: the innermost frame's pending values, into an outer variable."""
    s = g.scope
    pending = [v for v in s.frames[-1] if v.key in s.pending and v.type is not BOOL]
    if not pending:
        return []
    outer = [v for frame in s.frames[:-1] for v in frame if v.mutable and v.type is not BOOL]
    ty = pending[0].type
    if g.policy.differentiable and not ty.is_float_based:  # a loop counter: carried in a float
        ty = next((v.type for v in pending if v.type.is_float_based), FLOAT32)
    same = [v for v in outer if v.type is ty]
    carrier = choice(g.ch, same or outer) if outer else new_carrier(g, ty)
    value = gather(g, carrier.type, [g.read(v) for v in pending])
    value = assignable(g, combine(g, g.read(carrier), value, accumulate=True, from_zero=carrier.zero))
    node = g.use(value)
    g.assigned(carrier, value)
    return [ast.Assign(targets=[store(carrier.name)], value=node)]


def new_carrier(g: Gen, ty: WType) -> Var:
    """A variable declared just before the compound statement being built: from a value already
    there (`acc = x[i]`, so later products keep depending on it) or from zero (`acc = float(0.0)`)."""
    carrier = Var(g.names.fresh(VAR_NAMES[ty.kind]), ty)
    s = g.scope
    starts = [g.read(v) for v in s.frames[-2] if v.type is ty and v.is_value]
    starts += [  # an input at the thread's own index: the one index valid before any loop
        Expr(subscript(a.name, [load(n) for n in s.tid], ast.Load()), ty, 0, frozenset({a.key}), True, True)
        for a in s.inputs
        if a.type.dtype is ty and not ty.is_int_based
    ]
    from_value = g.ch.boolean(0.9 if g.policy.differentiable else 0.6)
    if starts and from_value:
        start = choice(g.ch, starts)
    else:
        start = assignable(g, zero(g, ty))
        carrier.zero = ty.is_scalar or ty.family in ("vec", "mat")  # other families start from a literal
    carrier.span = start.span  # `acc * x` of a zero start is rejected as settled
    g.use(start)
    g.scope.frames[-2].append(carrier)
    declaration = ast.Assign(targets=[store(carrier.name)], value=start.node)
    g.prelude.append((len(g.scope.frames) - 2, declaration))
    return carrier


def zero(g: Gen, ty: WType) -> Expr:
    """The neutral start of an accumulation: `0.0`, `wp.vec3(0.0)`, an identity, ..."""
    if ty.is_scalar:
        return Expr(number(ty, 0), ty, span=spans.point(0))
    if ty.family in ("vec", "mat"):
        return Expr(call(ty.annotation, number(BY_WARP_NAME[ty.scalar], 0)), ty, span=spans.point(0))
    return literal(g, ty)
