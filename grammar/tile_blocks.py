"""Block-level tile operations, and the table of every tile operation (`TILE_OPS`).

Linear algebra (matmul, Cholesky and triangular solves), FFTs, sorts and scans,
and per-thread exchanges (`wp.tile(x)`, `tile_from_thread`, `tile_scatter_add`,
the shared stack), besides the elementwise ones of `grammar.tile_ops`.  Each
row of `TILE_OPS` is a production over a kernel's `TileScope`; rows Warp does
not differentiate (by its registry) are left out of differentiable kernels.
Every call is well-formed: matmul operands chain, a Cholesky factor comes from
`t t^T + I` (symmetric positive definite), an FFT runs along rows whose length
the module's `block_dim` divides, and per-thread values enter a block only from
its last lane (`lane == wp.block_dim() - 1`), so the result is the same for any
block size.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from grammar.astnodes import annotation, arguments, binop, call, load, number, store, wp_attr
from grammar.choices import choice
from grammar.names import HELPER_NAMES, VAR_NAMES
from grammar.tile_ops import (
    op_accumulate,
    op_arg,
    op_arith,
    op_assign,
    op_astype,
    op_axpy,
    op_dot,
    op_extract,
    op_fill,
    op_indexed,
    op_inplace,
    op_map,
    op_map2,
    op_ramp,
    op_reduce_axis,
    op_scale,
    op_transpose,
    op_view,
    some_scalar,
    two_d,
)
from grammar.tiles import Tile, TileScope, tile_functions
from grammar.types import BY_WARP_NAME, FLOAT32, INT32, SUFFIX, WType


@dataclass(frozen=True)
class TileOp:
    name: str
    weight: float
    make: Callable[[TileScope], bool]
    differentiable: bool = True  # every builtin it calls has a gradient (Warp's registry)


# ----------------------------------------------------------------------------- linear algebra


def op_matmul(ts: TileScope) -> bool:
    """`wp.tile_matmul(a, b)` of chained shapes, into an existing tile (`wp.tile_matmul(a, b, c)`),
    or a Gram matrix `wp.tile_matmul(t, wp.tile_transpose(u))`."""
    g = ts.g
    floats = [t for t in ts.tiles if ts.floats(t) and two_d(t)]
    pairs = [(a, b) for a in floats for b in floats if a.shape[1] == b.shape[0]]
    ts.dense = True
    if pairs and g.ch.boolean(0.7):
        a, b = choice(g.ch, pairs)
        shape = (a.shape[0], b.shape[1])
        out = [c for c in floats if c.shape == shape and c.name not in (a.name, b.name)]
        if out and g.ch.boolean(0.4):
            c = choice(g.ch, out)
            ts.emit(ast.Expr(value=call("wp.tile_matmul", load(a.name), load(b.name), load(c.name))))
            ts.read(a.name, b.name)
            ts.updated(c)
        else:
            ts.assign(call("wp.tile_matmul", load(a.name), load(b.name)), shape, ts.dtype, (a.name, b.name))
        return True
    t = ts.pick(lambda x: ts.floats(x) and two_d(x))
    if t is None:
        return False
    u = ts.pick(lambda x: ts.floats(x) and x.shape == t.shape) or t
    gram = call("wp.tile_matmul", load(t.name), call("wp.tile_transpose", load(u.name)))
    ts.assign(gram, (t.shape[0], t.shape[0]), ts.dtype, (t.name, u.name))
    return True


def op_cholesky(ts: TileScope) -> bool:
    """`L = wp.tile_cholesky(t t^T + I)`, then a solve with a column of sums of a tile."""
    g = ts.g
    t = ts.pick(lambda x: ts.floats(x) and two_d(x))
    if t is None:
        return False
    n = t.shape[0]
    ts.dense = True
    gram = ts.assign(
        call("wp.tile_matmul", load(t.name), call("wp.tile_transpose", load(t.name))),
        (n, n),
        ts.dtype,
        (t.name,),
    )
    ones = call("wp.tile_ones", shape=ts.spell((n,)), dtype=ts.dtype_node(ts.dtype))
    spd = ts.assign(call("wp.tile_diag_add", load(gram.name), ones), (n, n), ts.dtype, (gram.name,))
    if g.ch.boolean(0.3):  # factored in place: `spd` holds the factor
        ts.emit(ast.Expr(value=call("wp.tile_cholesky_inplace", load(spd.name))))
        factor = spd
    else:
        factor = ts.assign(call("wp.tile_cholesky", load(spd.name)), (n, n), ts.dtype, (spd.name,))
    rows = ts.pick(lambda x: ts.floats(x) and x.shape == (n,))
    if rows is None:
        source = ts.pick(lambda x: ts.floats(x) and two_d(x) and x.shape[0] == n) or t
        rows = ts.assign(
            call("wp.tile_sum", load(source.name), axis=ast.Constant(1)), (n,), ts.dtype, (source.name,)
        )
    kind = choice(g.ch, ("tile_cholesky_solve", "tile_lower_solve", "tile_upper_solve"))
    matrix = load(factor.name) if kind != "tile_upper_solve" else call("wp.tile_transpose", load(factor.name))
    ts.read(factor.name)
    if g.ch.boolean(0.3):  # the solution overwrites the right-hand side
        ts.emit(ast.Expr(value=call(f"wp.{kind}_inplace", matrix, load(rows.name))))
        ts.updated(rows)
    else:
        ts.assign(call(f"wp.{kind}", matrix, load(rows.name)), (n,), ts.dtype, (rows.name,))
    return True


# ----------------------------------------------------------------------------- FFT, sort, scans


def op_fft(ts: TileScope) -> bool:
    """`c = wp.tile_map(cplx, t, u)`, then `wp.tile_fft(c)` (or `tile_ifft`) along its rows.

    Warp needs the FFT length divisible by the block size (CPU) and at least two elements per
    thread (CUDA): the kernel's module gets `block_dim` 2 (`@wp.kernel(module_options=...)`).
    """
    t = ts.pick(lambda x: ts.floats(x) and two_d(x) and x.shape[1] in (4, 8, 16))
    if t is None:
        return False
    ts.block_dim = 2
    complex_type = BY_WARP_NAME[f"vec2{SUFFIX[ts.dtype.warp_name]}"]
    u = ts.pick(lambda x: ts.floats(x) and x.shape == t.shape, other_than=t.name)
    imaginary = (
        load(u.name) if u else call("wp.tile_zeros", shape=ts.spell(t.shape), dtype=ts.dtype_node(ts.dtype))
    )
    c = ts.assign(
        call("wp.tile_map", load(_complex_helper(ts, complex_type)), load(t.name), imaginary),
        t.shape,
        complex_type,
        (t.name, *((u.name,) if u else ())),
    )
    ts.emit(ast.Expr(value=call(f"wp.tile_{choice(ts.g.ch, ('fft', 'ifft'))}", load(c.name))))
    return True


def _complex_helper(ts: TileScope, complex_type: WType) -> str:
    """`@wp.func def cplx(re, im) -> wp.vec2: return wp.vec2(re, im)`, defined once per module."""
    for stmt in ts.module_helpers:
        if isinstance(stmt, ast.FunctionDef):
            return stmt.name
    name = ts.g.names.fresh(HELPER_NAMES)
    re, im = ts.g.names.fresh(VAR_NAMES["float"]), ts.g.names.fresh(VAR_NAMES["float"])
    body = [ast.Return(value=call(complex_type.annotation, load(re), load(im)))]
    ts.module_helpers.append(
        ast.FunctionDef(
            name=name,
            args=arguments([(re, ts.dtype.annotation), (im, ts.dtype.annotation)]),
            body=body,
            decorator_list=[wp_attr("func")],
            returns=annotation(complex_type.annotation),
            type_params=[],
        )
    )
    return name


def _line(ts: TileScope) -> Tile | None:
    """A one-dimensional float32 tile: an existing one, or the sums along an axis of a tile
    (Warp sorts and scans float32, not float64)."""
    if ts.dtype is not FLOAT32:
        return None
    line = ts.pick(lambda x: ts.floats(x) and len(x.shape) == 1 and x.shape[0] > 1)
    if line is None and op_reduce_axis(ts):
        line = ts.tiles[-1]
    return line


def op_sort(ts: TileScope) -> bool:
    """`wp.tile_sort(keys, values)`: keys a line of floats, values their positions (or other floats)."""
    keys = _line(ts)
    if keys is None:
        return False
    (n,) = keys.shape
    values = ts.pick(lambda x: ts.floats(x) and x.shape == keys.shape, other_than=keys.name)
    if values is None or ts.g.ch.boolean(0.5):
        values = ts.assign(call("wp.tile_arange", ts.spell((n,)), dtype=load("int")), (n,), INT32, ())
    ts.emit(ast.Expr(value=call("wp.tile_sort", load(keys.name), load(values.name))))
    ts.updated(keys)
    ts.updated(values)
    return True


SCANS = ("tile_scan_inclusive", "tile_scan_exclusive", "tile_scan_max_inclusive", "tile_scan_min_inclusive")


def op_scan(ts: TileScope) -> bool:
    """A prefix sum (or max, min) along a line of floats."""
    line = _line(ts)
    if line is None:
        return False
    ts.assign(call(f"wp.{choice(ts.g.ch, SCANS)}", load(line.name)), line.shape, line.dtype, (line.name,))
    return True


# ----------------------------------------------------------------------------- per thread


def op_round_trip(ts: TileScope) -> bool:
    """`y = wp.untile(wp.tile_map(f, wp.tile(x)))`: a scalar through a tile of one value per thread."""
    s = some_scalar(ts)
    unary = tile_functions(ts.dtype, 1, ts.g.policy.differentiable)
    if s is None or not unary:
        return False
    value = call("wp.untile", call("wp.tile_map", choice(ts.g.ch, unary), call("wp.tile", ts.as_float(s))))
    ts.scalar(value, ts.dtype, (s.name,))
    return True


def op_from_thread(ts: TileScope) -> bool:
    """`wp.tile_from_thread(shape, value=x, thread_idx=wp.block_dim() - 1)`: the last thread's value."""
    s = some_scalar(ts)
    if s is None:
        return False
    last = binop(call("wp.block_dim"), ast.Sub(), ast.Constant(1))
    value = call("wp.tile_from_thread", shape=ts.spell(ts.shape), value=ts.as_float(s), thread_idx=last)
    ts.assign(value, ts.shape, ts.dtype, (s.name,))
    return True


def op_scatter(ts: TileScope) -> bool:
    """`wp.tile_scatter_add(z, k, x, lane == wp.block_dim() - 1)` into a shared tile of zeros."""
    s = some_scalar(ts)
    if s is None:
        return False
    n = choice(ts.g.ch, ts.shape)
    zeros = call(
        "wp.tile_zeros", shape=ts.spell((n,)), dtype=ts.dtype_node(ts.dtype), storage=ast.Constant("shared")
    )
    z = ts.assign(zeros, (n,), ts.dtype, ())
    kind = choice(ts.g.ch, ("tile_scatter_add", "tile_scatter_masked"))
    k = ast.Constant(ts.g.ch.integer(0, n - 1))
    ts.emit(ast.Expr(value=call(f"wp.{kind}", load(z.name), k, ts.as_float(s), ts.last_lane())))
    ts.read(s.name)
    return True


def op_stack(ts: TileScope) -> bool:
    """A shared stack: the last lane pushes `x`; its count, and a pop summed over the block
    (`wp.tile_sum(wp.tile(wp.where(slot >= 0, v, 0.0)))`, which is `x` whatever the block size)."""
    s = some_scalar(ts)
    if s is None:
        return False
    g = ts.g
    stack, value, slot = (g.names.fresh(p) for p in (("stack", "stk"), ("v", "top"), ("slot",)))
    capacity = ast.Constant(choice(g.ch, (1, 4, 8)))
    ts.emit(
        ast.Assign(
            targets=[store(stack)],
            value=call("wp.tile_stack", capacity=capacity, dtype=ts.dtype_node(ts.dtype)),
        )
    )
    ts.emit(ast.Expr(value=call("wp.tile_stack_push", load(stack), ts.as_float(s), ts.last_lane())))
    ts.read(s.name)
    ts.scalar(call("wp.tile_stack_count", load(stack)), INT32, ())
    pair = ast.Tuple(elts=[store(value), store(slot)], ctx=ast.Store())
    ts.emit(ast.Assign(targets=[pair], value=call("wp.tile_stack_pop", load(stack))))
    found = ast.Compare(left=load(slot), ops=[ast.GtE()], comparators=[ast.Constant(0)])
    kept = call("wp.where", found, load(value), number(ts.dtype, 0.0))
    ts.assign(call("wp.tile_sum", call("wp.tile", kept)), (1,), ts.dtype, ())
    if ts.g.ch.boolean(0.5):
        ts.emit(ast.Expr(value=call("wp.tile_stack_clear", load(stack))))
    return True


#: The tile operations, by weight; rows not differentiable are left out of differentiable kernels.
TILE_OPS: tuple[TileOp, ...] = (
    TileOp("map", 3.0, op_map),
    TileOp("map2", 1.2, op_map2),
    TileOp("arith", 1.5, op_arith),
    TileOp("scale", 0.8, op_scale),
    TileOp("transpose", 0.8, op_transpose),
    TileOp("astype", 0.3, op_astype),
    TileOp("reduce_axis", 0.8, op_reduce_axis),
    TileOp("extract", 1.0, op_extract),
    TileOp("view", 0.4, op_view, differentiable=False),
    TileOp("arg", 0.3, op_arg, differentiable=False),
    TileOp("dot", 0.4, op_dot),
    TileOp("accumulate", 0.8, op_accumulate),
    TileOp("fill", 0.4, op_fill),
    TileOp("ramp", 0.5, op_ramp),
    TileOp("inplace", 0.5, op_inplace),
    TileOp("axpy", 0.3, op_axpy),
    TileOp("assign", 0.3, op_assign),
    TileOp("indexed", 0.4, op_indexed),
    TileOp("matmul", 0.8, op_matmul),
    TileOp("cholesky", 0.4, op_cholesky, differentiable=False),
    TileOp("fft", 0.3, op_fft),
    TileOp("sort", 0.3, op_sort, differentiable=False),
    TileOp("scan", 0.3, op_scan, differentiable=False),
    TileOp("round_trip", 0.4, op_round_trip),
    TileOp("from_thread", 0.3, op_from_thread, differentiable=False),
    TileOp("scatter", 0.3, op_scatter),
    TileOp("stack", 0.3, op_stack, differentiable=False),
)


def tile_operation(ts: TileScope, weights: dict[str, float]) -> None:
    """One tile operation drawn by `weights` (a helper nothing maps yet goes first; with the
    vectors switch a complex FFT, whose tiles are of `wp.vec2`: a vector kernel)."""
    if any(h.key in ts.g.uncalled for h in ts.g.helpers) and op_map(ts):
        return
    if ts.g.policy.on("vectors") and not ts.block_dim and op_fft(ts):
        return
    names = sorted(weights)
    for _ in range(8):
        if BY_NAME[ts.g.ch.weighted(names, [weights[n] for n in names])].make(ts):
            return
    op_map(ts)


BY_NAME = {op.name: op for op in TILE_OPS}


def draw_tile_weights(ts: TileScope) -> dict[str, float]:
    """Weights of the operations this kernel may use, jittered (swarm testing)."""
    g = ts.g
    return {
        op.name: op.weight * g.ch.real(0.25, 1.75)
        for op in TILE_OPS
        if (op.differentiable or not g.policy.differentiable) and (op.name != "fft" or g.policy.on("vectors"))
    }
