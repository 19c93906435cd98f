"""Tile operations: one table (`TILE_OPS`), each row a production over a kernel's `TileScope`.

Each production reads tiles and scalars (pending ones preferred) and yields new
ones, pending until read; it returns False when the kernel has nothing it
applies to (another row is drawn).  Rows Warp does not differentiate (by its
registry) are left out of differentiable kernels.  Shapes are tracked exactly,
so every call is well-formed: matmul operands chain, a Cholesky factor comes
from `t t^T + I` (symmetric positive definite), an FFT runs along rows whose
length the module's `block_dim` divides, indices are in range.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from grammar.astnodes import annotation, arguments, binop, call, load, number, store, wp_attr
from grammar.choices import choice
from grammar.names import HELPER_NAMES, VAR_NAMES
from grammar.tiles import TILE_REDUCE_OPS, Tile, TileScope, tile_functions
from grammar.types import BY_WARP_NAME, FLOAT32, INT32, SUFFIX, WType


@dataclass(frozen=True)
class TileOp:
    name: str
    weight: float
    make: Callable[[TileScope], bool]
    differentiable: bool = True  # every builtin it calls has a gradient (Warp's registry)


def _two_d(t: Tile) -> bool:
    return len(t.shape) == 2


def _index(ts: TileScope, shape: tuple[int, ...]) -> list[ast.expr]:
    return [ast.Constant(ts.g.ch.integer(0, n - 1)) for n in shape]


# ----------------------------------------------------------------------------- elementwise


def op_map(ts: TileScope) -> bool:
    """`wp.tile_map(f, t)` with a unary builtin or helper (an uncalled helper first)."""
    g = ts.g
    t = ts.pick(ts.floats)
    if t is None:
        return False
    uncalled = [h for h in g.helpers if h.key in g.uncalled]
    if uncalled:
        g.uncalled.pop(uncalled[0].key)
        f: ast.expr = load(uncalled[0].name)
    else:
        f = choice(
            g.ch, [*tile_functions(ts.dtype, 1, g.policy.differentiable), *(load(h.name) for h in g.helpers)]
        )
    ts.assign(call("wp.tile_map", f, load(t.name)), t.shape, t.dtype, (t.name,))
    return True


def op_map2(ts: TileScope) -> bool:
    """`wp.tile_map(f, t, u)` with a binary builtin."""
    binary = tile_functions(ts.dtype, 2, ts.g.policy.differentiable)
    t = ts.pick(ts.floats)
    u = t and ts.pick(lambda x: ts.floats(x) and x.shape == t.shape, other_than=t.name)
    if not binary or t is None or u is None:
        return False
    value = call("wp.tile_map", choice(ts.g.ch, binary), load(t.name), load(u.name))
    ts.assign(value, t.shape, t.dtype, (t.name, u.name))
    return True


def op_arith(ts: TileScope) -> bool:
    """`t + u`, `t - u` or `t * u` (elementwise) of two tiles of one shape."""
    t = ts.pick(ts.floats)
    u = t and ts.pick(lambda x: ts.floats(x) and x.shape == t.shape, other_than=t.name)
    if t is None or u is None:
        return False
    op = choice(ts.g.ch, (ast.Add, ast.Sub, ast.Mult))()
    ts.assign(binop(load(t.name), op, load(u.name)), t.shape, t.dtype, (t.name, u.name))
    return True


def op_scale(ts: TileScope) -> bool:
    """`t * x`: a tile scaled by a block-uniform scalar."""
    s, t = ts.pick_scalar(), ts.pick(ts.floats)
    if s is None or t is None:
        return False
    ts.assign(binop(load(t.name), ast.Mult(), ts.as_float(s)), t.shape, t.dtype, (t.name, s.name))
    return True


def op_transpose(ts: TileScope) -> bool:
    t = ts.pick(_two_d)
    if t is None:
        return False
    ts.assign(call("wp.tile_transpose", load(t.name)), t.shape[::-1], t.dtype, (t.name,))
    return True


def op_astype(ts: TileScope) -> bool:
    """`wp.tile_astype(t, dtype=wp.float64)`: the tile in the other float type."""
    t = ts.pick(ts.floats)
    if t is None:
        return False
    other = BY_WARP_NAME["float64" if ts.dtype.warp_name == "float32" else "float32"]
    ts.assign(call("wp.tile_astype", load(t.name), dtype=ts.dtype_node(other)), t.shape, other, (t.name,))
    return True


# ----------------------------------------------------------------------------- reductions, parts


def op_reduce_axis(ts: TileScope) -> bool:
    """`wp.tile_sum(t, axis=k)` (or `tile_reduce(wp.max, t, axis=k)`): a row or column of sums."""
    t = ts.pick(lambda x: ts.floats(x) and _two_d(x))
    if t is None:
        return False
    axis = ts.g.ch.integer(0, 1)
    if ts.g.policy.differentiable or ts.g.ch.boolean(0.6):
        value = call("wp.tile_sum", load(t.name), axis=ast.Constant(axis))
    else:
        value = call(
            "wp.tile_reduce", wp_attr(choice(ts.g.ch, TILE_REDUCE_OPS)), load(t.name), axis=ast.Constant(axis)
        )
    ts.assign(value, (t.shape[1 - axis],), t.dtype, (t.name,))
    return True


def op_extract(ts: TileScope) -> bool:
    """`x = wp.tile_extract(t, r, c)` or `x = t[r, c]`: one element, the same in every thread."""
    t = ts.pick(lambda x: x.dtype.family == "scalar")
    if t is None:
        return False
    index = _index(ts, t.shape)
    if ts.g.ch.boolean(0.5):
        value: ast.expr = call("wp.tile_extract", load(t.name), *index)
    else:
        value = ast.Subscript(value=load(t.name), slice=_subscript(index), ctx=ast.Load())
    ts.scalar(value, t.dtype, (t.name,))
    return True


def _subscript(index: list[ast.expr]) -> ast.expr:
    return index[0] if len(index) == 1 else ast.Tuple(elts=index, ctx=ast.Load())


def op_view(ts: TileScope) -> bool:
    """`wp.tile_view(t, offset=(a, b), shape=(p, q))`: a part of a tile."""
    t = ts.pick(lambda x: _two_d(x) and x.shape[0] * x.shape[1] > 1)
    if t is None:
        return False
    shape = tuple(ts.g.ch.integer(1, n) for n in t.shape)
    if shape == t.shape:
        shape = (max(1, shape[0] // 2), shape[1]) if shape[0] > 1 else (1, shape[1] // 2)
    offset = tuple(ts.g.ch.integer(0, n - k) for n, k in zip(t.shape, shape, strict=True))
    value = call("wp.tile_view", load(t.name), offset=_ints(offset), shape=ts.spell(shape))
    ts.assign(value, shape, t.dtype, (t.name,))
    return True


def _ints(values: tuple[int, ...]) -> ast.expr:
    return ast.Tuple(elts=[ast.Constant(v) for v in values], ctx=ast.Load())


def op_arg(ts: TileScope) -> bool:
    """`m = wp.tile_argmax(t)`, then its index: `n = wp.tile_extract(m, 0)`."""
    t = ts.pick(ts.floats)
    if t is None:
        return False
    m = ts.assign(
        call(f"wp.tile_{choice(ts.g.ch, ('argmax', 'argmin'))}", load(t.name)), (1,), INT32, (t.name,)
    )
    ts.scalar(call("wp.tile_extract", load(m.name), ast.Constant(0)), INT32, (m.name,))
    return True


def op_dot(ts: TileScope) -> bool:
    """`wp.tile_dot(t, u)`: the sum of products, a one-element tile."""
    t = ts.pick(ts.floats)
    if t is None:
        return False
    u = ts.pick(lambda x: ts.floats(x) and x.shape == t.shape, other_than=t.name) or t
    ts.assign(call("wp.tile_dot", load(t.name), load(u.name)), (1,), t.dtype, (t.name, u.name))
    return True


# ----------------------------------------------------------------------------- constructors


def op_accumulate(ts: TileScope) -> bool:
    """`acc = wp.tile_zeros(...)`, then `acc += t` (and maybe `acc -= u`)."""
    t = ts.pick(ts.floats)
    if t is None:
        return False
    zeros = call("wp.tile_zeros", shape=ts.spell(t.shape), dtype=ts.dtype_node(t.dtype), **ts.layout())
    acc = ts.assign(zeros, t.shape, t.dtype, ())
    ts.emit(ast.AugAssign(target=store(acc.name), op=ast.Add(), value=load(t.name)))
    ts.read(t.name)
    u = ts.pick(lambda x: ts.floats(x) and x.shape == t.shape and x.name != acc.name, other_than=t.name)
    if u is not None and ts.g.ch.boolean(0.4):
        ts.emit(ast.AugAssign(target=store(acc.name), op=ast.Sub(), value=load(u.name)))
        ts.read(u.name)
    return True


def op_fill(ts: TileScope) -> bool:
    """A tile of one scalar: `wp.tile_full(shape, value=x)` or `wp.tile_ones(shape) * x`."""
    s = ts.pick_scalar()
    if s is None:
        return False
    shape = ts.shape if ts.g.ch.boolean(0.6) else (choice(ts.g.ch, ts.shape),)
    dtype = ts.dtype_node(ts.dtype)
    if ts.g.policy.differentiable or ts.g.ch.boolean(0.5):
        value = binop(call("wp.tile_ones", shape=ts.spell(shape), dtype=dtype), ast.Mult(), ts.as_float(s))
    else:
        value = call("wp.tile_full", shape=ts.spell(shape), value=ts.as_float(s), dtype=dtype)
    ts.assign(value, shape, ts.dtype, (s.name,))
    return True


def op_ramp(ts: TileScope) -> bool:
    """`t + wp.tile_broadcast(wp.tile_reshape(wp.tile_arange(...), ...), ...)`: a ramp along a side."""
    t = ts.pick(lambda x: ts.floats(x) and _two_d(x))
    if t is None:
        return False
    g = ts.g
    axis = g.ch.integer(0, 1)
    n = t.shape[axis]
    dtype = ts.dtype_node(t.dtype)
    if g.ch.boolean(0.5):
        ramp = call("wp.tile_arange", ts.spell((n,)), dtype=dtype)
    else:
        start, step = g.ch.integer(-4, 4), choice(g.ch, (1, 2, -1))
        stop = start + step * n
        ramp = call("wp.tile_arange", *map(ast.Constant, (start, stop, step)), dtype=dtype)
    line = (1, n) if axis == 1 else (n, 1)
    spread = call(
        "wp.tile_broadcast", call("wp.tile_reshape", ramp, shape=ts.spell(line)), shape=ts.spell(t.shape)
    )
    op = choice(g.ch, (ast.Add, ast.Mult))()
    ts.assign(binop(load(t.name), op, spread), t.shape, t.dtype, (t.name,))
    return True


# ----------------------------------------------------------------------------- in place


def op_inplace(ts: TileScope) -> bool:
    """`t[r, c] += x`, `t[r, c] -= x` or `t[r, c] = x`: one element of a tile updated."""
    s, t = ts.pick_scalar(), ts.pick(ts.floats)
    if s is None or t is None:
        return False
    target = ast.Subscript(value=load(t.name), slice=_subscript(_index(ts, t.shape)), ctx=ast.Store())
    op = choice(ts.g.ch, (ast.Add, ast.Sub, None))
    value = ts.as_float(s)
    stmt = (
        ast.Assign(targets=[target], value=value)
        if op is None
        else ast.AugAssign(target=target, op=op(), value=value)
    )
    ts.emit(stmt)
    ts.read(s.name)
    ts.updated(t)
    return True


def op_axpy(ts: TileScope) -> bool:
    """`wp.tile_axpy(x, src, dest)`: dest += x * src."""
    s, src = ts.pick_scalar(), ts.pick(ts.floats)
    dest = src and ts.pick(lambda x: ts.floats(x) and x.shape == src.shape, other_than=src.name)
    if s is None or src is None or dest is None:
        return False
    ts.emit(ast.Expr(value=call("wp.tile_axpy", ts.as_float(s), load(src.name), load(dest.name))))
    ts.read(s.name, src.name)
    ts.updated(dest)
    return True


def op_assign(ts: TileScope) -> bool:
    """`wp.tile_assign(dst, src, offset=(a, b))`: a smaller tile written into a part of a larger one."""
    src = ts.pick(lambda x: ts.floats(x) and _two_d(x) and x.shape != ts.shape)
    fits = src and (
        lambda x: ts.floats(x) and _two_d(x) and all(a >= b for a, b in zip(x.shape, src.shape, strict=True))
    )
    dst = src and ts.pick(fits, other_than=src.name)  # type: ignore[arg-type]
    if src is None or dst is None:
        return False
    offset = tuple(ts.g.ch.integer(0, a - b) for a, b in zip(dst.shape, src.shape, strict=True))
    ts.emit(ast.Expr(value=call("wp.tile_assign", load(dst.name), load(src.name), offset=_ints(offset))))
    ts.read(src.name)
    ts.updated(dst)
    return True


def op_indexed(ts: TileScope) -> bool:
    """`wp.tile_load_indexed(a, indices=idx, ...)`: rows (or columns) of this block's part of an
    input, in the order of an index tile (`wp.tile_arange`, maybe reversed)."""
    if not ts.inputs:
        return False
    g = ts.g
    axis = g.ch.integer(0, 1)
    n = ts.shape[axis]
    args = (ts.spell((n,)),) if g.ch.boolean(0.5) else tuple(map(ast.Constant, (n - 1, -1, -1)))
    idx = ts.assign(call("wp.tile_arange", *args, dtype=load("int")), (n,), INT32, ())
    value = call(
        "wp.tile_load_indexed",
        load(choice(g.ch, ts.inputs)),
        indices=load(idx.name),
        shape=ts.spell(ts.shape),
        offset=ts.offset,
        axis=ast.Constant(axis),
    )
    ts.assign(value, ts.shape, ts.dtype, (idx.name,))
    return True


# ----------------------------------------------------------------------------- linear algebra


def op_matmul(ts: TileScope) -> bool:
    """`wp.tile_matmul(a, b)` of chained shapes, into an existing tile (`wp.tile_matmul(a, b, c)`),
    or a Gram matrix `wp.tile_matmul(t, wp.tile_transpose(u))`."""
    g = ts.g
    floats = [t for t in ts.tiles if ts.floats(t) and _two_d(t)]
    pairs = [(a, b) for a in floats for b in floats if a.shape[1] == b.shape[0]]
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
    t = ts.pick(lambda x: ts.floats(x) and _two_d(x))
    if t is None:
        return False
    u = ts.pick(lambda x: ts.floats(x) and x.shape == t.shape) or t
    gram = call("wp.tile_matmul", load(t.name), call("wp.tile_transpose", load(u.name)))
    ts.assign(gram, (t.shape[0], t.shape[0]), ts.dtype, (t.name, u.name))
    return True


def op_cholesky(ts: TileScope) -> bool:
    """`L = wp.tile_cholesky(t t^T + I)`, then a solve with a column of sums of a tile."""
    g = ts.g
    t = ts.pick(lambda x: ts.floats(x) and _two_d(x))
    if t is None:
        return False
    n = t.shape[0]
    gram = ts.assign(
        call("wp.tile_matmul", load(t.name), call("wp.tile_transpose", load(t.name))),
        (n, n),
        ts.dtype,
        (t.name,),
    )
    ones = call("wp.tile_ones", shape=ts.spell((n,)), dtype=ts.dtype_node(ts.dtype))
    spd = ts.assign(call("wp.tile_diag_add", load(gram.name), ones), (n, n), ts.dtype, (gram.name,))
    factor = ts.assign(call("wp.tile_cholesky", load(spd.name)), (n, n), ts.dtype, (spd.name,))
    rows = ts.pick(lambda x: ts.floats(x) and x.shape == (n,))
    if rows is None:
        source = ts.pick(lambda x: ts.floats(x) and _two_d(x) and x.shape[0] == n) or t
        rows = ts.assign(
            call("wp.tile_sum", load(source.name), axis=ast.Constant(1)), (n,), ts.dtype, (source.name,)
        )
    kind = choice(g.ch, ("tile_cholesky_solve", "tile_lower_solve", "tile_upper_solve"))
    matrix = load(factor.name) if kind != "tile_upper_solve" else call("wp.tile_transpose", load(factor.name))
    ts.assign(call(f"wp.{kind}", matrix, load(rows.name)), (n,), ts.dtype, (rows.name,))
    return True


# ----------------------------------------------------------------------------- FFT, sort, scans


def op_fft(ts: TileScope) -> bool:
    """`c = wp.tile_map(cplx, t, u)`, then `wp.tile_fft(c)` (or `tile_ifft`) along its rows.

    Warp needs the FFT length divisible by the block size (CPU) and at least two elements per
    thread (CUDA): the kernel's module gets `block_dim` 2 (`@wp.kernel(module_options=...)`).
    """
    t = ts.pick(lambda x: ts.floats(x) and _two_d(x) and x.shape[1] in (4, 8, 16))
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
    s = ts.pick_scalar()
    unary = tile_functions(ts.dtype, 1, ts.g.policy.differentiable)
    if s is None or not unary:
        return False
    value = call("wp.untile", call("wp.tile_map", choice(ts.g.ch, unary), call("wp.tile", ts.as_float(s))))
    ts.scalar(value, ts.dtype, (s.name,))
    return True


def op_from_thread(ts: TileScope) -> bool:
    """`wp.tile_from_thread(shape, value=x, thread_idx=wp.block_dim() - 1)`: the last thread's value."""
    s = ts.pick_scalar()
    if s is None:
        return False
    last = binop(call("wp.block_dim"), ast.Sub(), ast.Constant(1))
    value = call("wp.tile_from_thread", shape=ts.spell(ts.shape), value=ts.as_float(s), thread_idx=last)
    ts.assign(value, ts.shape, ts.dtype, (s.name,))
    return True


def op_scatter(ts: TileScope) -> bool:
    """`wp.tile_scatter_add(z, k, x, lane == wp.block_dim() - 1)` into a shared tile of zeros."""
    s = ts.pick_scalar()
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
    s = ts.pick_scalar()
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
    """One tile operation drawn by `weights` (a helper nothing maps yet goes first)."""
    if any(h.key in ts.g.uncalled for h in ts.g.helpers) and op_map(ts):
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
        if op.differentiable or not g.policy.differentiable
    }
