"""Tile operations on the elements of tiles: maps, arithmetic, reductions, views, constructors,
in-place updates (the block-level ones and the table of all are in `grammar.tile_blocks`).

Each production reads tiles and scalars (pending ones preferred) and yields new
ones, pending until read; it returns False when the kernel has nothing it
applies to (another row of the table is drawn).  Shapes are tracked exactly, so
every call is well-formed: views and assignments fit, indices are in range.
"""

from __future__ import annotations

import ast

from grammar.astnodes import binop, call, load, store, wp_attr
from grammar.choices import choice
from grammar.tiles import TILE_REDUCE_OPS, Scalar, Tile, TileScope, tile_functions
from grammar.types import BY_WARP_NAME, INT32


def two_d(t: Tile) -> bool:
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
    s, t = some_scalar(ts), ts.pick(ts.floats)
    if s is None or t is None:
        return False
    ts.assign(binop(load(t.name), ast.Mult(), ts.as_float(s)), t.shape, t.dtype, (t.name, s.name))
    return True


def _aliasable(t: Tile) -> bool:
    """A 2-d tile a transpose or view may alias: not a complex one.  Warp 1.19 keeps an aliased
    tile in shared memory, and its FFT of a shared tile does not compile for blocks of more than
    one thread (docs/warp_findings/fft_of_transposed_tile.py)."""
    return two_d(t) and t.dtype.family != "vec"


def op_transpose(ts: TileScope) -> bool:
    t = ts.pick(_aliasable)
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
    t = ts.pick(lambda x: ts.floats(x) and two_d(x))
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


def some_scalar(ts: TileScope) -> Scalar | None:
    """A scalar (a pending one first), else one extracted from a tile now."""
    return ts.pick_scalar() or (ts.scalars[-1] if op_extract(ts) else None)


def _subscript(index: list[ast.expr]) -> ast.expr:
    return index[0] if len(index) == 1 else ast.Tuple(elts=index, ctx=ast.Load())


def op_view(ts: TileScope) -> bool:
    """`wp.tile_view(t, offset=(a, b), shape=(p, q))`: a part of a tile."""
    t = ts.pick(lambda x: _aliasable(x) and x.shape[0] * x.shape[1] > 1)
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
    s = some_scalar(ts)
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
    t = ts.pick(lambda x: ts.floats(x) and two_d(x))
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
    s, t = some_scalar(ts), ts.pick(ts.floats)
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
    s, src = some_scalar(ts), ts.pick(ts.floats)
    dest = src and ts.pick(lambda x: ts.floats(x) and x.shape == src.shape, other_than=src.name)
    if s is None or src is None or dest is None:
        return False
    ts.emit(ast.Expr(value=call("wp.tile_axpy", ts.as_float(s), load(src.name), load(dest.name))))
    ts.read(s.name, src.name)
    ts.updated(dest)
    return True


def op_assign(ts: TileScope) -> bool:
    """`wp.tile_assign(dst, src, offset=(a, b))`: a smaller tile written into a part of a larger one
    (if there is none, a row of column sums: `wp.tile_reshape(wp.tile_sum(t, axis=0), shape=(1, c))`)."""
    src = ts.pick(lambda x: ts.floats(x) and two_d(x) and x.shape != ts.shape)
    t = ts.pick(lambda x: ts.floats(x) and two_d(x) and x.shape[0] > 1)
    if src is None and t is not None:
        row = call(
            "wp.tile_reshape",
            call("wp.tile_sum", load(t.name), axis=ast.Constant(0)),
            shape=ts.spell((1, t.shape[1])),
        )
        src = ts.assign(row, (1, t.shape[1]), t.dtype, (t.name,))
    fits = src and (
        lambda x: ts.floats(x) and two_d(x) and all(a >= b for a, b in zip(x.shape, src.shape, strict=True))
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
