"""Simple statements: declarations, assignments, stores and atomics (no nested block).

Each reads live values (preferably pending ones) and leaves what it computes
pending, so the next statements, a block-end fold or the final stores carry
it to an output.  An assignment never drops a pending value: overwriting a
variable whose value was not read yet reads it too (`acc = acc * 0.5 + x`).
Outputs are written once, at the thread's own index, with a value that depends
on an input; accumulators only through atomics (no data races).
"""

from __future__ import annotations

import ast

from grammar import safety, spans
from grammar.astnodes import binop, call, load, same, store, subscript
from grammar.builtins import (
    ATOMICS,
    BINARY_OPERATORS,
    Builtin,
    builtins_returning,
    math_builtin_names,
    multi_result_builtins,
)
from grammar.choices import choice
from grammar.context import Array, Expr, Gen, Helper, StructType, Var
from grammar.expressions import (
    REPEAT_OK,
    allowed,
    apply,
    argument,
    array_index,
    array_read,
    builtin_call,
    call_helper,
    candidates,
    combine,
    component_of,
    condition,
    expression,
    flow,
    literal,
    narrowed,
)
from grammar.names import STRUCT_LOCAL_NAMES, VAR_NAMES
from grammar.types import BOOL, INT32, UINT64, ArrayType, WType

# ----------------------------------------------------------------------------- values


def assignable(g: Gen, value: Expr) -> Expr:
    """A value fit to initialise or overwrite a variable.

    Literals get their type's constructor (Warp needs `float(0.0)`, not
    `0.0`, for a variable it may later mutate); ints are narrowed.
    """
    ty = value.type
    if not value.live and _is_number(value.node) and ty.is_scalar:
        return Expr(call(ty.annotation, value.node), ty, value.bound, span=value.span)
    if not ty.is_int_based or safety.wraps(ty) or value.bound <= safety.ASSIGN_BOUND:
        return value
    return narrowed(g, value)


def _is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) or (isinstance(node, ast.UnaryOp) and _is_number(node.operand))


def stored(g: Gen, value: Expr) -> Expr:
    """A value fit for an array element: int ones within the launch contract's bound."""
    ty = value.type
    if ty.is_int_based and not safety.wraps(ty) and value.bound > safety.ARRAY_INT_BOUND:
        return narrowed(g, value)
    return value


def input_fed(g: Gen, value: Expr) -> Expr:
    """`value`, made to depend on a kernel input if it does not yet (combined with an input read).

    Under a differentiable policy it must read an input array itself: a dependence through a
    branch or a scalar parameter has no derivative the gradient check sees.
    """
    if not g.scope.inputs:
        return value
    if value.tainted and not (g.policy.differentiable and not _reads_input(g, value.node)):
        return value
    read = flow(g, array_read(g, choice(g.ch, g.scope.inputs)), value.type)
    return combine(g, value, read) if read is not None else value


def _reads_input(g: Gen, node: ast.expr) -> bool:
    inputs = {a.name for a in g.scope.inputs}
    return any(isinstance(n, ast.Subscript) and ast.unparse(n.value) in inputs for n in ast.walk(node))


def fresh_type(g: Gen) -> WType:
    """The type of a new variable: often that of a pending value, so the value is carried on."""
    pending = [v.type for v in g.scope.pending_vars() if v.is_value and v.type is not BOOL]
    if pending and g.ch.boolean(0.5):
        return choice(g.ch, pending)
    return choice(g.ch, g.types)


# ----------------------------------------------------------------------------- declarations


def declare(g: Gen) -> list[ast.stmt]:
    """`name = expression` for a fresh variable."""
    return declare_typed(g, fresh_type(g))


def declare_typed(g: Gen, ty: WType) -> list[ast.stmt]:
    """A fresh variable computed from live values (not a bare copy of another variable)."""
    value = expression(g, ty, g.policy.max_expr_depth, live=True)
    for _ in range(4):
        if not isinstance(value.node, ast.Name):
            break
        value = builtin_call(g, ty, max(g.policy.max_expr_depth, 1)) or value
    return declare_value(g, value)


def declare_value(g: Gen, value: Expr) -> list[ast.stmt]:
    value = assignable(g, value)
    var = Var(g.names.fresh(VAR_NAMES[value.type.kind]), value.type)
    node = g.use(value)
    g.scope.declare(var)
    g.assigned(var, value)
    var.span = value.span  # a new variable holds this value alone, in a loop too
    return [ast.Assign(targets=[store(var.name)], value=node)]


def declare_kind(g: Gen, kind: str) -> list[ast.stmt]:
    """A declaration of one of the kernel's vector (or matrix) types."""
    return declare_typed(g, choice(g.ch, [t for t in g.types if t.kind == kind]))


def math_declaration(g: Gen) -> list[ast.stmt]:
    """A declaration whose value calls a math builtin (so a math-focused kernel surely has one)."""
    names = math_builtin_names()
    groups = [grp for t in g.types for grp in candidates(g, t) if grp[0].name in names]
    for _ in range(6):
        if not groups:
            break
        made = apply(g, choice(g.ch, choice(g.ch, groups)), g.policy.max_expr_depth)
        if made is not None:
            return declare_value(g, made)
    return declare(g)


def address_offset(g: Gen) -> list[ast.stmt]:
    """`off = wp.address_of(a[j]) - wp.address_of(a[i])`: the distance in bytes of two elements of
    one input array, a uint64 (it wraps when j < i: defined).  An address itself differs between
    runs and devices; a distance within one array does not, so only distances are computed.
    Without uint64 in the kernel it is brought into an int: `wp.int32(off % wp.uint64(4096))`."""
    if not g.scope.inputs:
        return declare(g)
    arr = choice(g.ch, g.scope.inputs)
    a, b = array_read(g, arr), array_read(g, arr)
    if same(a.node, b.node):  # the same element twice: a distance of 0
        return declare(g)
    node = binop(call("wp.address_of", a.node), ast.Sub(), call("wp.address_of", b.node))
    if UINT64 in g.type_set and g.ch.boolean(0.5):
        return declare_value(g, Expr.of(node, UINT64, [a, b], safety.type_max(UINT64)))
    modulus = safety.NARROW_TARGETS[3]
    node = call("wp.int32", binop(node, ast.Mod(), call("wp.uint64", ast.Constant(modulus))))
    return declare_value(g, Expr.of(node, INT32, [a, b], modulus - 1))


def struct_local(g: Gen) -> list[ast.stmt]:
    """`s = Body()`, then a field of it set: its fields are variables from then on."""
    if not g.structs:
        return declare(g)
    struct = choice(g.ch, g.structs)
    name = g.names.fresh(STRUCT_LOCAL_NAMES)
    fields = struct_fields(g, name, struct, parameter=False)
    stmts: list[ast.stmt] = [ast.Assign(targets=[store(name)], value=call(struct.name))]
    if fields:
        stmts += assign_to(g, choice(g.ch, fields))
    return stmts


def struct_fields(g: Gen, path: str, struct: StructType, *, parameter: bool) -> list[Var]:
    """Make the fields under `path` visible: read-only ones of a parameter, mutable ones of a local.

    A parameter's fields share its liveness key (reading one reads the parameter), and its
    array fields are inputs; a local's arrays are never initialised, so they stay invisible.
    """
    key = path.partition(".")[0] if parameter else ""
    found = []
    for name, ty in struct.fields:
        sub = f"{path}.{name}"
        if isinstance(ty, StructType):
            found += struct_fields(g, sub, ty, parameter=parameter)
        elif isinstance(ty, ArrayType):
            if parameter:
                g.scope.inputs.append(Array(sub, ty, key))
        else:
            bound = safety.settle(ty, safety.MAX_EXTENT) if parameter else safety.VAR_BOUND
            span = spans.input_span(ty, array=False) if parameter else None
            var = Var(sub, ty, mutable=not parameter, bound=bound, key=key, tainted=parameter, span=span)
            g.scope.declare(var, pending=False)
            found.append(var)
    return found


def unpack(g: Gen) -> list[ast.stmt]:
    """`a, b = helper(...)` or `U, s, V = wp.svd3(A)`: tuple unpacking of a multi-result call."""
    helpers = [h for h in g.helpers if h.returns is None]
    builtins = [b for b in multi_result_builtins() if allowed(g, b)]
    if not helpers and not builtins:
        return declare(g)
    if helpers and (not builtins or g.ch.boolean()):
        return unpack_call(g, choice(g.ch, helpers))
    b = choice(g.ch, builtins)
    return unpacked(g, apply(g, b, g.policy.max_expr_depth - 1), b.results, 0)


def unpack_call(g: Gen, h: Helper) -> list[ast.stmt]:
    """`a, b = helper(...)`."""
    return unpacked(g, call_helper(g, h, g.policy.max_expr_depth - 1), h.results, h.bound)


def unpacked(g: Gen, made: Expr | None, results: tuple[WType, ...], bound: int) -> list[ast.stmt]:
    if made is None:
        return declare(g)
    node = g.use(made)
    variables = [Var(g.names.fresh(VAR_NAMES[t.kind]), t) for t in results]
    for var in variables:
        var.bound = min(bound, safety.VAR_BOUND) if var.type.is_int_based else 0
        g.scope.declare(var)
        g.assigned(var, made)
    target = ast.Tuple(elts=[store(v.name) for v in variables], ctx=ast.Store())
    return [ast.Assign(targets=[target], value=node)]


# ----------------------------------------------------------------------------- assignments


def assign(g: Gen) -> list[ast.stmt]:
    """`existing = expression` of the same type (reading it, if its value is still pending)."""
    targets = [v for v in g.scope.variables(mutable=True) if v.type is not BOOL]
    if not targets:
        return declare(g)
    return assign_to(g, choice(g.ch, targets))


def assign_to(g: Gen, var: Var) -> list[ast.stmt]:
    value = expression(g, var.type, g.policy.max_expr_depth, live=True)
    if var.key in g.scope.pending and var.key not in value.reads:
        value = combine(g, g.read(var), value, accumulate=True, from_zero=var.zero)
    if isinstance(value.node, ast.Name) and value.node.id == var.name:
        value = combine(g, value, expression(g, var.type, 1, live=True))
    value = assignable(g, value)
    node = g.use(value)
    g.assigned(var, value)
    return [ast.Assign(targets=[store(var.name)], value=node)]


def augassign(g: Gen) -> list[ast.stmt]:
    """`x op= expression` through an operator overload `(T, U) -> T`."""
    targets = [v for v in g.scope.variables(mutable=True) if v.type is not BOOL]
    if not targets:
        return declare(g)
    var = choice(g.ch, targets)
    ops = [
        b
        for b in builtins_returning(var.type.warp_name)
        if b.name in BINARY_OPERATORS
        and len(b.params) == 2
        and b.params[0] is var.type
        and allowed(g, b)
        and _augassign_ok(g, b)
    ]
    if not ops:
        return assign_to(g, var)
    op = choice(g.ch, ops)
    rhs = argument(g, op, 1, g.policy.max_expr_depth - 1, live=True)
    if rhs is None or (op.name not in REPEAT_OK and rhs.reads == {var.key}):
        return assign_to(g, var)  # `x -= x`, `x ^= x` ...: self-cancelling
    if var.type.is_int_based and op.name in ("add", "sub"):
        if rhs.bound > safety.AUG_DELTA:
            rhs = narrowed(g, rhs, safety.AUG_DELTA)
        g.int_augassigns += 1
    node = g.use(rhs)
    g.scope.consume([var.key])
    g.assigned(var, Expr(node, var.type, 0, rhs.reads, True, rhs.tainted or var.tainted))
    return [ast.AugAssign(target=store(var.name), op=BINARY_OPERATORS[op.name](), value=node)]


def _augassign_ok(g: Gen, b: Builtin) -> bool:
    if not b.returns.is_int_based:
        return b.name in ("add", "sub", "mul", "div")
    if b.name in ("add", "sub"):
        return g.int_augassigns < safety.MAX_INT_AUGASSIGNS and g.scope.trips <= safety.MAX_TRIPS
    return b.name in ("mod", "floordiv", "bit_and")


def component_store(g: Gen) -> list[ast.stmt]:
    """`v[k] = s`, `M[r, c] = s`, `v.x = s` or `t.p = v` on a vector, matrix or transform variable."""
    targets = [v for v in g.scope.variables(mutable=True) if not v.type.is_scalar]
    # Warp 1.19 rejects `s.t.p = v` for a transform field of a struct ("assigning
    # transform attribute p to an array element"): only transforms held in variables
    targets = [v for v in targets if not ("." in v.name and v.type.family == "transform")]
    if not targets:
        return declare(g)
    var = choice(g.ch, targets)
    part = component_of(g, Expr(load(var.name), var.type), ast.Store())
    value = expression(g, part.type, g.policy.max_expr_depth - 1, live=True)
    if part.type.is_int_based and value.bound > safety.ASSIGN_BOUND:
        value = narrowed(g, value)
    node = g.use(value)
    g.assigned(var, Expr(node, var.type, 0, value.reads, True, value.tainted or var.tainted))
    return [ast.Assign(targets=[part.node], value=node)]


def select(g: Gen) -> list[ast.stmt]:
    """`x = a if c else b`: a conditional expression."""
    ty = fresh_type(g)
    test = condition(g, 1)
    a = expression(g, ty, g.policy.max_expr_depth - 1, live=True)
    b = expression(g, ty, g.policy.max_expr_depth - 1)
    if same(a.node, b.node):
        b = literal(g, ty)
    node = ast.IfExp(test=test.node, body=a.node, orelse=b.node)
    return declare_value(g, Expr.of(node, ty, [test, a, b], max(a.bound, b.bound)))


# ----------------------------------------------------------------------------- effects


def output_store(g: Gen) -> list[ast.stmt]:
    """`out[tid] = value` for an output not written yet (never the last: the final stores need it)."""
    open_ = [a for a in g.scope.outputs[:-1] if a.name not in g.scope.written]
    if not open_ or g.scope.block_depth:
        return declare(g)
    arr = choice(g.ch, open_)
    value = expression(g, arr.type.dtype, g.policy.max_expr_depth, live=True)
    return write_output(g, arr, value)


def write_output(g: Gen, arr: Array, value: Expr) -> list[ast.stmt]:
    """`out[tid] = value`, once per output."""
    value = stored(g, input_fed(g, value))
    g.scope.written.add(arr.name)
    index = [load(n) for n in g.scope.tid]
    return [ast.Assign(targets=[subscript(arr.name, index, ast.Store())], value=g.use(value))]


def atomic(g: Gen) -> list[ast.stmt]:
    """`wp.atomic_op(acc, index, value...)` or `acc[index] += value` on an accumulator array."""
    if not g.scope.accumulators:
        return declare(g)
    arr = choice(g.ch, g.scope.accumulators)
    return atomic_update(g, arr, expression(g, arr.type.dtype, g.policy.max_expr_depth - 1, live=True))


def atomic_update(g: Gen, arr: Array, value: Expr) -> list[ast.stmt]:
    """An atomic update of `arr` by `value` (|value| <= 1 for int add/sub: no overflow)."""
    ty = arr.type.dtype
    op = choice(g.ch, atomic_ops(ty, g.policy.differentiable))
    values = [input_fed(g, value)]
    if op == "atomic_cas":  # compare, then the new value: two different ones
        new = expression(g, ty, 1, live=True)
        values.append(literal(g, ty) if same(new.node, value.node) else new)
    if ty.is_int_based and not safety.wraps(ty):
        limit = 1 if op in ("atomic_add", "atomic_sub") else safety.ARRAY_INT_BOUND
        values = [narrowed(g, v, limit) if v.bound > limit else v for v in values]
    index = [array_index(g, arr, d) for d in range(arr.type.ndim)]
    nodes = [g.use(i) for i in index] + [g.use(v) for v in values]
    g.scope.written.add(arr.name)
    if op == "atomic_add" and g.ch.boolean(0.3):
        target = subscript(arr.name, nodes[: len(index)], ast.Store())
        return [ast.AugAssign(target=target, op=ast.Add(), value=nodes[-1])]
    return [ast.Expr(value=call(f"wp.{op}", load(arr.name), *nodes))]


#: Scalar dtypes Warp's atomics support on both backends, and the operations per kind.
ATOMIC_SCALARS = ("float32", "float64", "int32", "uint32", "int64", "uint64")
_ATOMIC_OPS = {
    "float": ("atomic_add", "atomic_sub", "atomic_min", "atomic_max", "atomic_exch", "atomic_cas"),
    "int": ATOMICS,
    "vector": ("atomic_add", "atomic_sub"),
}


def atomic_ops(ty: WType, differentiable: bool = False) -> tuple[str, ...]:
    """Atomic operations on an accumulator of element type `ty` (none: not an accumulator type)."""
    if ty.scalar not in ATOMIC_SCALARS or (not ty.is_scalar and (ty.family != "vec" or ty.is_int_based)):
        return ()
    return ("atomic_add", "atomic_sub") if differentiable else _ATOMIC_OPS[ty.kind]


def break_continue(g: Gen) -> list[ast.stmt]:
    """`if condition: break` (or continue) inside a loop."""
    jump = ast.Break() if g.ch.boolean() else ast.Continue()
    return [ast.If(test=g.use(condition(g, 1)), body=[jump], orelse=[])]
