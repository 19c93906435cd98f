"""The start symbol: one module of constants, structs, helpers and a kernel.

    module := import constant* struct* [tile_size] helper* kernel
    kernel := prologue [random_state] statement* final_stores

The kernel's parameters are pending from the start (input arrays, scalar
and struct parameters), its body's statements carry values along, and the
final stores gather whatever is still pending into the outputs and
accumulators, each of which gets a value that depends on an input.  So every
parameter is read, every local is read, and everything computed reaches an
output.  Data-race freedom: each thread writes its outputs only at its own
launch index, reads only input arrays, and touches accumulators only through
atomics.
"""

from __future__ import annotations

import ast

from grammar import safety, spans
from grammar.astnodes import arguments, call, load, shape, store
from grammar.choices import Choices, choice
from grammar.context import Array, Expr, Gen, Var
from grammar.definitions import constant, helper, struct
from grammar.expressions import expression, gather, pending_leaves
from grammar.geometry import ANNOTATIONS, draw_handles, unread_handles
from grammar.gradients import custom_gradient
from grammar.names import (
    ACC_NAMES,
    ARRAY_NAMES,
    KERNEL_NOUNS,
    KERNEL_VERBS,
    OUTPUT_NAMES,
    RNG_NAMES,
    STRUCT_PARAM_NAMES,
    TID_NAMES,
    VAR_NAMES,
)
from grammar.options import decorator, draw_options
from grammar.policy import Policy
from grammar.simple import atomic_ops, atomic_update, struct_fields, unpack_call, write_output
from grammar.statements import block, draw_weights, loop_body, required_kinds
from grammar.tile_blocks import draw_tile_weights, tile_operation
from grammar.tiles import TILE_DTYPES, TileScope, module_options, tile_constants, tile_kernel, tile_shape
from grammar.types import BOOL, FLOAT32, INT32, UINT32, VEC3, ArrayType
from grammar.unparse import number_statements


def generate_module(ch: Choices, policy: Policy) -> tuple[ast.Module, str]:
    """The module AST and its kernel's name."""
    g = Gen(ch, policy)
    g.weights = draw_weights(ch, policy)
    body: list[ast.stmt] = [ast.Import(names=[ast.alias(name="warp", asname="wp")])]
    body += [constant(g) for _ in range(policy.n_constants)]
    if policy.on("structs"):
        body += [struct(g) for _ in range(1 + ch.boolean(0.3))]
    tile_dtype = choice(ch, TILE_DTYPES) if policy.on("tiles") else None
    if tile_dtype:
        shape = tile_shape(g)
        sides, definitions = tile_constants(g, shape)
        body += definitions
    nest = None
    if policy.on("custom_grads"):
        body += custom_gradient(g)
        nest = g.helpers[-1] if ch.boolean(0.5) else None  # called by a helper (nested), else by the kernel
    n_helpers = max(policy.n_helpers, bool(nest))
    body += [helper(g, tile_dtype, nest if k == 0 else None) for k in range(n_helpers)]
    required: dict[str, object] = {}
    if tile_dtype:
        ts = TileScope(g, tile_dtype, shape, sides)
        weights = draw_tile_weights(ts)
        params, kernel_body = tile_kernel(g, ts, lambda scope: tile_operation(scope, weights))
        body += ts.module_helpers
        required = module_options(ts)
    else:
        params, kernel_body = thread_kernel(g)
    name = f"{choice(ch, KERNEL_VERBS)}_{choice(ch, KERNEL_NOUNS)}"
    kernel = ast.FunctionDef(
        name=name,
        args=arguments(params),
        body=kernel_body,
        decorator_list=[decorator(*draw_options(g, tile_dtype is not None, required))],
        returns=None,
        type_params=[],
    )
    body.append(kernel)
    number_statements(body)  # `ast.unparse` reads statements' line numbers
    return ast.Module(body=body, type_ignores=[]), name


def thread_kernel(g: Gen) -> tuple[list[tuple[str, str]], list[ast.stmt]]:
    """Parameters and body of a kernel of one thread per launch index."""
    g.scope = g.new_scope(kernel=True)
    params = kernel_parameters(g)
    body = prologue(g)
    if g.policy.on("random"):
        body += random_state(g)
    body += block(g, g.policy.statements, required=required_kinds(g.policy))
    body += unread_handles(g, loop_body)
    body += final_stores(g)
    return params, body


def kernel_parameters(g: Gen) -> list[tuple[str, str]]:
    """Input, output and accumulator arrays, then a struct and scalar parameters: all pending."""
    p, s = g.policy, g.scope
    array_types = [t for t in g.storable if t is not BOOL]
    atomic_types = [t for t in array_types if atomic_ops(t)]
    groups = (
        (s.inputs, p.n_inputs, ARRAY_NAMES, array_types),
        (s.outputs, p.n_outputs, OUTPUT_NAMES, array_types),
        (s.accumulators, 1 if p.on("atomics") and atomic_types else 0, ACC_NAMES, atomic_types),
    )
    params = []
    for group, count, pool, dtypes in groups:
        for _ in range(count):
            name = g.names.fresh(pool)
            # a geometry kernel's first input holds points (what its queries start from)
            points = p.on("geometry") and group is s.inputs and not s.inputs
            array = Array(name, ArrayType(VEC3 if points else choice(g.ch, dtypes), p.launch_ndim), name)
            group.append(array)
            params.append((name, array.type.annotation))
    for array in s.inputs:
        s.pending[array.key] = None
    if g.structs:
        made = g.structs[-1]  # it nests the others
        name = g.names.fresh(STRUCT_PARAM_NAMES)
        struct_fields(g, name, made, parameter=True)
        s.pending[name] = None
        params.append((name, made.annotation))
    if p.on("geometry"):
        params += [(h.name, ANNOTATIONS[h.kind]) for h in draw_handles(g)]
    if p.on("scalar_params"):
        for _ in range(g.ch.integer(1, 2)):
            ty = choice(g.ch, [t for t in g.storable if t.is_scalar])
            bound = safety.settle(ty, safety.MAX_EXTENT)
            span = spans.input_span(ty, array=False)
            var = Var(
                g.names.fresh(VAR_NAMES[ty.kind]), ty, mutable=False, bound=bound, tainted=True, span=span
            )
            s.declare(var)
            params.append((var.name, ty.annotation))
    return params


def prologue(g: Gen) -> list[ast.stmt]:
    """`i = wp.tid()`, and optionally an early return for threads outside the outputs."""
    s = g.scope
    names = choice(g.ch, [t for t in TID_NAMES if len(t) == g.policy.launch_ndim])
    names = tuple(g.names.fresh((n,)) for n in names)
    s.tid = names
    for d, name in enumerate(names):
        index = Var(name, INT32, mutable=False, bound=safety.MAX_EXTENT, span=spans.INPUT_SPANS["index"])
        s.declare(index, pending=False)
        s.index_vars[d] = [name]
    target = ast.Tuple(elts=[store(n) for n in names], ctx=ast.Store()) if len(names) > 1 else store(names[0])
    stmts: list[ast.stmt] = [ast.Assign(targets=[target], value=call("wp.tid"))]
    if g.policy.guard_launch:
        out = s.outputs[0].name
        tests = [
            ast.Compare(left=load(n), ops=[ast.GtE()], comparators=[shape(out, d)])
            for d, n in enumerate(names)
        ]
        test = tests[0] if len(tests) == 1 else ast.BoolOp(op=ast.Or(), values=tests)
        stmts.append(ast.If(test=test, body=[ast.Return(value=None)], orelse=[]))
    return stmts


def random_state(g: Gen) -> list[ast.stmt]:
    """`rng = wp.rand_init(seed, i)`: a per-thread random state for `wp.randf(rng)` and friends."""
    g.rng = Var(g.names.fresh(RNG_NAMES), UINT32, mutable=False, bound=safety.type_max(UINT32), opaque=True)
    g.scope.declare(g.rng)
    seed = ast.Constant(g.ch.integer(0, 2**16))
    value = call("wp.rand_init", seed, load(g.scope.tid[0]))
    return [ast.Assign(targets=[store(g.rng.name)], value=value)]


def final_stores(g: Gen) -> list[ast.stmt]:
    """Every output not written yet, and every accumulator not updated yet, gets a value; together
    they read everything still pending."""
    s = g.scope
    stmts: list[ast.stmt] = []
    for h in g.helpers:  # a tuple-returning helper not called yet: its results are unpacked
        if h.key in g.uncalled and h.returns is None:
            stmts += unpack_call(g, h)
    sinks = [a for a in (*s.outputs, *s.accumulators) if a.name not in s.written]
    leaves = [leaf for make in pending_leaves(g, None) if (leaf := make()) is not None]
    leaves += [g.read(c) for c in s.variables() if c.constant and c.key in s.pending]
    if g.rng is not None and g.rng.key in s.pending:  # a random number: no random builtin took it yet
        state = g.read(g.rng)
        leaves.append(Expr.of(call("wp.randf", state.node), FLOAT32, [state]))
    shares: dict[str, list[Expr]] = {a.name: [] for a in sinks}
    for k, leaf in enumerate(leaves):
        same = [a for a in sinks if a.type.dtype is leaf.type]
        target = same[k % len(same)] if same else sinks[k % len(sinks)]
        shares[target.name].append(leaf)
    for sink in sinks:
        ty = sink.type.dtype
        share = shares[sink.name]
        value = gather(g, ty, share) if share else expression(g, ty, g.policy.max_expr_depth, live=True)
        if sink in s.outputs:
            stmts += write_output(g, sink, value)
        else:
            stmts += atomic_update(g, sink, value)
    return stmts
