"""Tile kernels: each thread block loads square tiles at its own tile index and transforms them.

    kernel := tid; tile_load(input)+; tile_op*; tile_store(out, tile); [tile_atomic_add(acc, reduction)]
    tile_op := tile_map(f, t) | tile_map(f2, t, u) | tile_transpose(t) | t + u | t - u

Tiles follow the same liveness rule as values: every tile is used, the
stored tile sums up the ones still pending, and `t - t` is never built.
Launch contract: a 2-d launch over tiles, arrays of shape launch * TILE.
"""

from __future__ import annotations

import ast
from functools import cache

from grammar.astnodes import binop, call, load, store, wp_attr
from grammar.builtins import CONVERSIONS, SAFETY, UNARY_OPERATORS, builtins_returning
from grammar.choices import choice
from grammar.context import Gen
from grammar.names import ACC_NAMES, ARRAY_NAMES, OUTPUT_NAMES, TILE_NAMES, TILE_SIZE_NAMES
from grammar.types import BY_WARP_NAME, FLOAT32, ArrayType, WType

#: Element types of tiles, and the operators `tile_reduce` folds with.
TILE_DTYPES = (FLOAT32, BY_WARP_NAME["float64"])
TILE_REDUCE_OPS = ("add", "max", "min")
#: Reductions to a one-element tile; only `tile_sum` has a gradient (Warp 1.19).
REDUCTIONS = ("tile_sum", "tile_max", "tile_min", "tile_reduce")


def tile_size(g: Gen) -> tuple[str, ast.stmt]:
    """`TILE = wp.constant(8)`: the side of the square tiles."""
    name = g.names.fresh(TILE_SIZE_NAMES)
    value = call("wp.constant", ast.Constant(choice(g.ch, (4, 8, 16))))
    return name, ast.Assign(targets=[store(name)], value=value)


def tile_kernel(g: Gen, dtype: WType, size: str) -> tuple[list[tuple[str, str]], list[ast.stmt]]:
    """Parameters and body of a tile kernel over tiles of `dtype`, `size` on a side."""
    tid = (g.names.fresh(("i",)), g.names.fresh(("j",)))
    arrays = [g.names.fresh(ARRAY_NAMES) for _ in range(g.policy.n_inputs)]
    out = g.names.fresh(OUTPUT_NAMES)
    acc = g.names.fresh(ACC_NAMES) if g.ch.boolean(0.5) else None
    matrix = ArrayType(dtype, 2)
    params = [(a, matrix.annotation) for a in (*arrays, out)]
    params += [(acc, ArrayType(dtype, 1).annotation)] if acc else []
    shape = ast.Tuple(elts=[load(size), load(size)], ctx=ast.Load())
    offset = ast.Tuple(elts=[binop(load(t), ast.Mult(), load(size)) for t in tid], ctx=ast.Load())
    body: list[ast.stmt] = [
        ast.Assign(targets=[ast.Tuple(elts=[store(t) for t in tid], ctx=ast.Store())], value=call("wp.tid"))
    ]
    tiles = Tiles(g, dtype)
    for a in arrays:
        body.append(tiles.assign(call("wp.tile_load", load(a), shape=shape, offset=offset), reads=[]))
    for _ in range(max(1, g.policy.statements, len(g.helpers))):  # every helper is mapped over a tile
        body.append(tiles.operation())
    if acc:
        body.append(ast.Expr(value=call("wp.tile_atomic_add", load(acc), tiles.reduction())))
    body.append(ast.Expr(value=call("wp.tile_store", load(out), tiles.total(), offset=offset)))
    return params, body


class Tiles:
    """The tiles of one kernel, and which of them are still pending (never used)."""

    def __init__(self, g: Gen, dtype: WType):
        self.g = g
        self.dtype = dtype
        self.names: list[str] = []
        self.pending: list[str] = []

    def assign(self, value: ast.expr, reads: list[str]) -> ast.stmt:
        for name in reads:
            if name in self.pending:
                self.pending.remove(name)
        name = self.g.names.fresh(TILE_NAMES)
        self.names.append(name)
        self.pending.append(name)
        return ast.Assign(targets=[store(name)], value=value)

    def pick(self, other_than: str | None = None) -> str:
        """A tile, preferably a pending one."""
        pool = [t for t in self.pending if t != other_than] if self.g.ch.boolean(0.8) else []
        pool = pool or [t for t in self.names if t != other_than] or self.names
        return choice(self.g.ch, pool)

    def operation(self) -> ast.stmt:
        """A new tile of the same shape from earlier ones."""
        g = self.g
        a = self.pick()
        uncalled = [h for h in g.helpers if h.key in g.uncalled]
        if uncalled:  # every helper is mapped over some tile
            g.uncalled.pop(uncalled[0].key)
            return self.assign(call("wp.tile_map", load(uncalled[0].name), load(a)), [a])
        unary = [*tile_functions(self.dtype, 1, g.policy.differentiable), *(load(h.name) for h in g.helpers)]
        binary = tile_functions(self.dtype, 2, g.policy.differentiable)
        kind = choice(g.ch, ("map", "map", "map2", "transpose", "arith"))
        if kind == "transpose":
            return self.assign(call("wp.tile_transpose", load(a)), [a])
        if kind == "map" or len(self.names) < 2 or not binary:
            return self.assign(call("wp.tile_map", choice(g.ch, unary), load(a)), [a])
        b = self.pick(other_than=a)
        if kind == "map2":
            return self.assign(call("wp.tile_map", choice(g.ch, binary), load(a), load(b)), [a, b])
        return self.assign(binop(load(a), choice(g.ch, (ast.Add, ast.Sub))(), load(b)), [a, b])

    def reduction(self) -> ast.expr:
        """A one-element tile: `tile_sum`, `tile_max`, `tile_min` or `tile_reduce(op, t)`."""
        g = self.g
        t = self.pick()
        self.pending = [p for p in self.pending if p != t]
        kind = "tile_sum" if g.policy.differentiable else choice(g.ch, REDUCTIONS)
        if kind == "tile_reduce":
            return call("wp.tile_reduce", wp_attr(choice(g.ch, TILE_REDUCE_OPS)), load(t))
        return call(f"wp.{kind}", load(t))

    def total(self) -> ast.expr:
        """The stored tile: the last one, plus every tile still pending."""
        last = self.names[-1]
        total: ast.expr = load(last)
        for name in self.pending:
            if name != last:
                total = binop(total, ast.Add(), load(name))
        self.pending = []
        return total


def tile_functions(dtype: WType, arity: int, differentiable: bool) -> list[ast.expr]:
    """`wp.f` for the registry's unguarded scalar functions `(dtype,)*arity -> dtype` (for `tile_map`)."""
    return [wp_attr(name) for name in _tile_function_names(dtype, arity, differentiable)]


@cache
def _tile_function_names(dtype: WType, arity: int, differentiable: bool) -> tuple[str, ...]:
    return tuple(
        b.name
        for b in builtins_returning(dtype.warp_name)
        if b.params == (dtype,) * arity
        and b.family in ("Scalar Math", "Operators")
        and b.name not in SAFETY
        and b.name not in CONVERSIONS
        and b.name not in UNARY_OPERATORS
        and (b.differentiable or not differentiable)
    )
