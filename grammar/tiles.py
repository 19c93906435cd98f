"""Tile kernels: each thread block loads tiles at its own tile index and transforms them.

    kernel := tid; tile_load(input)+; tile_op+; [tile_atomic_add(acc, reduction)]; tile_store(out, total)
    tile_op := a row of `grammar.tile_ops.TILE_OPS` (maps, arithmetic, reductions, views,
               constructors, matmul, Cholesky, FFT, sort, scans, per-thread round trips ...)

Tiles follow the same liveness rule as values: every tile and every scalar a
tile operation yields is used, and the stored tile gathers those still pending
(each brought to the output's shape: transposed, reduced and broadcast).  The
tile shape (rows x cols, not only square) and the storage layout (register or
shared) are drawn per kernel.  Per-thread operations (`wp.tile(x)`,
`tile_scatter_add`, `tile_stack_push`, `tile_from_thread`) are gated on the
last lane of the block (`lane == wp.block_dim() - 1`) or undone (`wp.untile`),
so a block computes the same whatever its size: a CPU block has one thread.
Launch contract: a 2-d launch over tiles, 2-d arrays of shape launch * (rows, cols).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from grammar.astnodes import binop, call, load, store, wp_attr
from grammar.builtins import CONVERSIONS, SAFETY, UNARY_OPERATORS, builtins_returning
from grammar.choices import choice
from grammar.context import Gen
from grammar.names import ACC_NAMES, ARRAY_NAMES, OUTPUT_NAMES, TILE_NAMES, TILE_SIZE_NAMES, VAR_NAMES
from grammar.types import BY_WARP_NAME, FLOAT32, INT32, ArrayType, WType

#: Element types of tiles.
TILE_DTYPES = (FLOAT32, BY_WARP_NAME["float64"])
#: Tile sides the policy draws from (rows and columns separately: tiles need not be square).
TILE_SIDES = (2, 4, 8, 16)
#: Most elements of a tile (a 16 x 16 tile of float64 in shared memory is 2 KB per array).
MAX_TILE_ELEMENTS = 128
#: Storage layouts a tile may be created in (`storage=` of tile_load and the constructors).
STORAGES = ("register", "shared")


@dataclass(frozen=True)
class Tile:
    """A tile variable: its name, shape and element type (a float, int32, or a complex vec2)."""

    name: str
    shape: tuple[int, ...]
    dtype: WType


@dataclass(frozen=True)
class Scalar:
    """A block-uniform scalar a tile operation yielded (`x = wp.tile_extract(t, 1, 2)`)."""

    name: str
    type: WType


def tile_shape(g: Gen) -> tuple[int, int]:
    """The kernel's (rows, cols): drawn per kernel, at most MAX_TILE_ELEMENTS elements."""
    sides = [(r, c) for r in TILE_SIDES for c in TILE_SIDES if r * c <= MAX_TILE_ELEMENTS and c >= 4]
    return choice(g.ch, sides)


def tile_constants(g: Gen, shape: tuple[int, int]) -> tuple[dict[int, str], list[ast.stmt]]:
    """`ROWS = wp.constant(4)` (and `COLS = ...` unless square): the names shapes are spelled with."""
    names: dict[int, str] = {}
    stmts: list[ast.stmt] = []
    for side in dict.fromkeys(shape):
        names[side] = g.names.fresh(TILE_SIZE_NAMES)
        stmts.append(ast.Assign(targets=[store(names[side])], value=call("wp.constant", ast.Constant(side))))
    return names, stmts


class TileScope:
    """The tiles and scalars of one tile kernel, which of them are still pending, and its body."""

    def __init__(self, g: Gen, dtype: WType, shape: tuple[int, int], sides: dict[int, str]):
        self.g = g
        self.dtype = dtype
        self.shape = shape
        self.sides = sides
        self.tiles: list[Tile] = []
        self.pending: list[str] = []
        self.scalars: list[Scalar] = []
        self.body: list[ast.stmt] = []
        self.storage = choice(g.ch, STORAGES) if g.ch.boolean(0.3) else None
        self.lane: str | None = None  # the thread's lane in its block, once a per-thread op needs it
        self.block_dim: int | None = None  # a module block_dim an operation needs (FFT)
        self.dense = False  # a matmul or Cholesky factorisation (MathDx's, on CUDA) is in the kernel
        self.module_helpers: list[ast.stmt] = []  # functions an operation defines (FFT's complex pair)
        self.inputs: list[str] = []  # the input arrays' names
        self.offset: ast.expr = ast.Tuple(elts=[], ctx=ast.Load())  # this block's tile offset

    # ------------------------------------------------------------------ spelling

    def spell(self, shape: tuple[int, ...]) -> ast.expr:
        """`(ROWS, COLS)`, `COLS` or a literal: a shape in the kernel's constants where they fit."""
        sides = [load(self.sides[n]) if n in self.sides else ast.Constant(n) for n in shape]
        return sides[0] if len(sides) == 1 else ast.Tuple(elts=sides, ctx=ast.Load())

    def dtype_node(self, ty: WType) -> ast.expr:
        return {FLOAT32: load("float"), INT32: load("int")}.get(ty) or wp_attr(ty.warp_name)

    def layout(self) -> dict[str, ast.expr]:
        return {"storage": ast.Constant(self.storage)} if self.storage else {}

    def last_lane(self) -> ast.expr:
        """`lane == wp.block_dim() - 1`: true for one thread of the block, whatever its size."""
        if self.lane is None:
            self.lane = self.g.names.fresh(("lane",))
        last = binop(call("wp.block_dim"), ast.Sub(), ast.Constant(1))
        return ast.Compare(left=load(self.lane), ops=[ast.Eq()], comparators=[last])

    # ------------------------------------------------------------------ values

    def emit(self, stmt: ast.stmt) -> None:
        self.body.append(stmt)

    def read(self, *names: str) -> None:
        for name in names:
            if name in self.pending:
                self.pending.remove(name)

    def assign(self, value: ast.expr, shape: tuple[int, ...], dtype: WType, reads: tuple[str, ...]) -> Tile:
        """`name = value`: a new pending tile (what `value` reads is read)."""
        self.read(*reads)
        tile = Tile(self.g.names.fresh(TILE_NAMES), shape, dtype)
        self.tiles.append(tile)
        self.pending.append(tile.name)
        self.emit(ast.Assign(targets=[store(tile.name)], value=value))
        return tile

    def updated(self, tile: Tile) -> None:
        """`tile` was changed in place: its new value is pending."""
        if tile.name not in self.pending:
            self.pending.append(tile.name)

    def scalar(self, value: ast.expr, ty: WType, reads: tuple[str, ...]) -> Scalar:
        self.read(*reads)
        made = Scalar(self.g.names.fresh(VAR_NAMES[ty.kind]), ty)
        self.scalars.append(made)
        self.pending.append(made.name)
        self.emit(ast.Assign(targets=[store(made.name)], value=value))
        return made

    def pick(self, fits: Callable[[Tile], bool] = lambda t: True, other_than: str = "") -> Tile | None:
        """A tile that `fits`, preferably a pending one."""
        pool = [t for t in self.tiles if fits(t) and t.name != other_than]
        pending = [t for t in pool if t.name in self.pending]
        if pending and (self.g.ch.boolean(0.8) or len(pool) == len(pending)):
            return choice(self.g.ch, pending)
        return choice(self.g.ch, pool) if pool else None

    def pick_scalar(self) -> Scalar | None:
        pending = [s for s in self.scalars if s.name in self.pending]
        pool = pending or self.scalars
        return choice(self.g.ch, pool) if pool else None

    def floats(self, t: Tile) -> bool:
        return t.dtype is self.dtype

    def as_float(self, s: Scalar) -> ast.expr:
        """A scalar in the tiles' float type (`float(n)` for an int)."""
        return load(s.name) if s.type is self.dtype else call(CONVERSIONS[self.dtype.warp_name], load(s.name))

    # ------------------------------------------------------------------ the stored tile

    def conform(self, t: Tile) -> ast.expr:
        """`t` as a float tile of the output's shape: converted, transposed, reduced, broadcast."""
        node: ast.expr = load(t.name)
        shape = t.shape
        if t.dtype.family == "vec":  # a complex tile: its magnitude
            node = call("wp.tile_map", wp_attr("length"), node)
        elif t.dtype is not self.dtype:
            node = call("wp.tile_astype", node, dtype=self.dtype_node(self.dtype))
        rows, cols = self.shape
        if shape == self.shape:
            return node
        if shape == (cols, rows):
            return call("wp.tile_transpose", node)
        if len(shape) == 2 and shape[0] == rows:
            node, shape = call("wp.tile_sum", node, axis=ast.Constant(1)), (rows,)
        elif len(shape) == 2 and shape[1] == cols:
            node, shape = call("wp.tile_sum", node, axis=ast.Constant(0)), (cols,)
        elif len(shape) == 2 or (len(shape) == 1 and shape[0] not in (rows, cols)):
            node, shape = call("wp.tile_sum", node), (1,)
        if shape != (1,):  # a row (or column) of the output, repeated
            shape = (1, cols) if shape == (cols,) else (rows, 1)
            node = call("wp.tile_reshape", node, shape=self.spell(shape))
        return call("wp.tile_broadcast", node, shape=self.spell(self.shape))

    def total(self) -> ast.expr:
        """The stored tile: the last tile of the output's shape, plus every pending tile, times
        every pending scalar."""
        last = next((t for t in reversed(self.tiles) if t.shape == self.shape and self.floats(t)), None)
        first = last or self.tiles[-1]
        node = self.conform(first)
        self.read(first.name)
        for t in [t for t in self.tiles if t.name in self.pending]:
            node = binop(node, ast.Add(), self.conform(t))
        for s in [s for s in self.scalars if s.name in self.pending]:
            node = binop(node, ast.Mult(), self.as_float(s))
        self.pending = []
        return node


def module_options(ts: TileScope) -> dict[str, object]:
    """Module options the kernel's operations need: an FFT's block size; with it, Warp's own CUDA
    matmul and Cholesky (libmathdx builds no GEMM for a block of two threads)."""
    if not ts.block_dim:
        return {}
    dense = {"enable_mathdx_gemm": False, "enable_mathdx_solver": False} if ts.dense else {}
    return {"block_dim": ts.block_dim, **dense}


def tile_kernel(
    g: Gen, ts: TileScope, operation: Callable[[TileScope], None]
) -> tuple[list[tuple[str, str]], list[ast.stmt]]:
    """Parameters and body of a tile kernel; `operation` adds one tile operation to `ts`."""
    tid = (g.names.fresh(("i",)), g.names.fresh(("j",)))
    arrays = [g.names.fresh(ARRAY_NAMES) for _ in range(g.policy.n_inputs)]
    out = g.names.fresh(OUTPUT_NAMES)
    acc = g.names.fresh(ACC_NAMES) if g.ch.boolean(0.5) else None
    matrix = ArrayType(ts.dtype, 2)
    params = [(a, matrix.annotation) for a in (*arrays, out)]
    params += [(acc, ArrayType(ts.dtype, 1).annotation)] if acc else []
    ts.inputs = arrays
    ts.offset = ast.Tuple(
        elts=[binop(load(t), ast.Mult(), load(ts.sides[n])) for t, n in zip(tid, ts.shape, strict=True)],
        ctx=ast.Load(),
    )
    for a in arrays:
        value = call("wp.tile_load", load(a), shape=ts.spell(ts.shape), offset=ts.offset, **ts.layout())
        ts.assign(value, ts.shape, ts.dtype, ())
    # every helper is mapped over a tile; a tile kernel has nothing else: one or two more operations
    for _ in range(max(1, g.policy.statements, len(g.helpers)) + g.ch.integer(1, 2)):
        operation(ts)
    if acc:
        ts.emit(ast.Expr(value=call("wp.tile_atomic_add", load(acc), reduction(ts))))
    ts.emit(ast.Expr(value=call("wp.tile_store", load(out), ts.total(), offset=ts.offset)))
    names = (*tid, ts.lane) if ts.lane else tid
    prologue = ast.Assign(
        targets=[ast.Tuple(elts=[store(n) for n in names], ctx=ast.Store())], value=call("wp.tid")
    )
    return params, [prologue, *ts.body]


#: Reductions to a one-element tile; only `tile_sum` has a gradient (Warp 1.19).
REDUCTIONS = ("tile_sum", "tile_max", "tile_min", "tile_reduce")
TILE_REDUCE_OPS = ("add", "max", "min")


def reduction(ts: TileScope) -> ast.expr:
    """A one-element tile of a float tile: `tile_sum`, `tile_max`, `tile_min` or `tile_reduce(op, t)`."""
    g = ts.g
    t = ts.pick(ts.floats) or ts.tiles[0]
    ts.read(t.name)
    kind = "tile_sum" if g.policy.differentiable else choice(g.ch, REDUCTIONS)
    if kind == "tile_reduce":
        return call("wp.tile_reduce", wp_attr(choice(g.ch, TILE_REDUCE_OPS)), load(t.name))
    return call(f"wp.{kind}", load(t.name))


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
