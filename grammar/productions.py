"""The grammar: from decisions (`Choices`) and knobs (`Policy`) to a Python `ast.Module`.

One idea per function.  `ModuleGenerator.module()` is the start symbol:

    module     := helper* kernel
    kernel     := prologue statement* final_store+
    statement  := declare | assign | augassign | store | component_store
                | atomic | if | for | while | break/continue
    expression := variable | literal | array_read | component | shape
                | builtin(expression*) | helper(expression*)      (typed)

Every expression is typed (`Expr.type`) and integer ones carry a magnitude
bound (`Expr.bound`, see `grammar.safety`).  Builtins and operators come from
the registry-derived table (`grammar.builtins`); nothing here names a math
builtin.  Data-race freedom: each thread writes output arrays only at its own
launch index, reads only input arrays, and touches accumulator arrays only
through atomics.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from grammar import safety
from grammar.astnodes import annotation as _annotation
from grammar.astnodes import arguments as _arguments
from grammar.astnodes import binop, call, number, wp_attr
from grammar.astnodes import load as _load
from grammar.astnodes import shape as _shape
from grammar.astnodes import store as _store
from grammar.astnodes import subscript as _subscript
from grammar.builtins import (
    ATOMICS,
    BINARY_OPERATORS,
    CONVERSIONS,
    SAFETY,
    UNARY_OPERATORS,
    Builtin,
    builtins_returning,
    math_builtin_names,
    multi_result_builtins,
)
from grammar.choices import Choices, choice
from grammar.policy import Policy
from grammar.types import (
    BOOL,
    BY_WARP_NAME,
    FLOAT32,
    INT32,
    SUFFIX,
    UINT32,
    ArrayType,
    WType,
    is_unsigned,
)

# ----------------------------------------------------------------------------- names

KERNEL_VERBS = (
    "compute",
    "update",
    "integrate",
    "accumulate",
    "scale",
    "apply",
    "blend",
    "transform",
    "advect",
    "relax",
    "solve",
    "filter",
    "reduce",
    "project",
    "smooth",
    "evaluate",
)
KERNEL_NOUNS = (
    "values",
    "field",
    "state",
    "forces",
    "weights",
    "grid",
    "particles",
    "samples",
    "density",
    "energy",
    "velocity",
    "signal",
    "buffer",
    "points",
    "mass",
    "pressure",
)
HELPER_NAMES = (
    "mix",
    "falloff",
    "weight",
    "shade",
    "kernel_fn",
    "blend_val",
    "response",
    "damp",
    "activate",
    "remap",
    "penalty",
    "combine",
    "warp_fn",
    "soft",
    "score",
    "lift",
)
VAR_NAMES: dict[str, tuple[str, ...]] = {
    "float": ("acc", "s", "t", "val", "x", "y", "w", "h", "r", "tmp", "total", "alpha", "beta", "e", "d"),
    "int": ("n", "idx", "cnt", "m", "c", "bits", "off", "code", "b"),
    "vector": ("v", "p", "dir", "vel", "pos", "u", "nrm", "g"),
    "matrix": ("M", "R", "A", "rot", "basis", "H"),
}
ARRAY_NAMES = ("a", "b", "x", "y", "data", "src", "vals", "pos", "field", "weights", "inp", "coef")
OUTPUT_NAMES = ("out", "result", "dst", "res", "y_out", "target")
ACC_NAMES = ("accum", "hist", "total", "counts", "sums")
LOOP_NAMES = ("k", "j", "q", "it", "step", "l")
TID_NAMES = (("i",), ("tid",), ("i", "j"), ("x", "y"), ("i", "j", "k"), ("x", "y", "z"), ("i", "j", "k", "l"))
CONSTANT_NAMES = ("SCALE", "EPS", "GAIN", "STEPS", "OFFSET", "LIMIT", "RATE", "BIAS")
STRUCT_NAMES = ("Body", "Particle", "Cell", "Params", "State", "Material")
FIELD_NAMES = ("mass", "pos", "vel", "k", "inner", "data", "coef", "flag", "radius", "weights", "n")
RESERVED = frozenset({"wp", "float", "int", "range", "len", "min", "max", "abs", "sum", "print", "id"})


class Names:
    """Allocates identifiers, unique within one module (no shadowing anywhere)."""

    def __init__(self, ch: Choices):
        self._ch = ch
        self._used: set[str] = set(RESERVED)

    def fresh(self, pool: tuple[str, ...]) -> str:
        base = choice(self._ch, pool)
        name, n = base, 0
        while name in self._used:
            n += 1
            name = f"{base}{n}"
        self._used.add(name)
        return name


# ----------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class Expr:
    """A typed expression; `bound` bounds |value| of int expressions."""

    node: ast.expr
    type: WType
    bound: int = 0


@dataclass
class Var:
    name: str
    type: WType
    mutable: bool = True
    bound: int = safety.VAR_BOUND  # read bound for ints


@dataclass(frozen=True)
class Helper:
    name: str
    params: tuple[WType, ...]
    results: tuple[WType, ...]  # several: the helper returns a tuple
    bound: int  # int return magnitude (of every result)

    @property
    def returns(self) -> WType | None:
        """The single result's type (None for a tuple-returning helper)."""
        return self.results[0] if len(self.results) == 1 else None


@dataclass(frozen=True)
class StructType:
    """A `@wp.struct` class: fields of value types, nested structs and arrays."""

    name: str
    fields: tuple[tuple[str, WType | StructType | ArrayType], ...]

    @property
    def annotation(self) -> str:
        return self.name


@dataclass
class Scope:
    """What a statement can see: variables by block, arrays, loop context."""

    frames: list[list[Var]] = field(default_factory=lambda: [[]])
    inputs: list[tuple[str, ArrayType]] = field(default_factory=list)
    outputs: list[tuple[str, ArrayType]] = field(default_factory=list)
    accumulators: list[tuple[str, ArrayType]] = field(default_factory=list)
    tid: tuple[str, ...] = ()
    loop_depth: int = 0
    block_depth: int = 0
    trips: int = 1  # product of trip-count bounds of the enclosing loops
    unrolled: int = 1  # product of trip counts of the enclosing loops Warp unrolls (code size)
    index_vars: dict[int, list[str]] = field(default_factory=dict)  # launch dim -> valid index names

    def variables(self, ty: WType | None = None, mutable: bool = False) -> list[Var]:
        found = [v for frame in self.frames for v in frame]
        if ty is not None:
            found = [v for v in found if v.type == ty]
        if mutable:
            found = [v for v in found if v.mutable]
        return found

    def declare(self, var: Var) -> None:
        self.frames[-1].append(var)


# ----------------------------------------------------------------------------- generator


class ModuleGenerator:
    """Generates one module (helpers and a kernel) under one policy."""

    def __init__(self, ch: Choices, policy: Policy):
        self.ch = ch
        self.policy = policy
        self.names = Names(ch)
        self.helpers: list[Helper] = []
        self.scope = Scope()
        self.int_augassigns = 0
        self.types = policy.value_types
        self._type_set = frozenset(self.types)
        self.weights = dict(policy.weights)
        self._pending: list[str] = []  # statement kinds the next block must contain
        self._math = math_builtin_names()
        self._unrolled: set[str] = set()  # constant-range (unrolled) loop variables and constants
        self._candidates: dict[str, list[Builtin]] = {}
        self.constants: list[Var] = []  # module-level wp.constant values, visible everywhere
        self.structs: list[StructType] = []
        self.tile_size_name = ""  # the module's tile-size constant, in tile kernels
        self.compounds = 0  # blocks opened so far (bounds the size of the generated code)

    # --------------------------------------------------------------- start symbol

    def module(self) -> tuple[ast.Module, str]:
        """The module AST and its kernel's name."""
        body: list[ast.stmt] = [ast.Import(names=[ast.alias(name="warp", asname="wp")])]
        for _ in range(self.policy.n_constants):
            body.append(self.constant())
        if self.policy.on("structs"):
            for _ in range(self.ch.integer(1, 2)):
                body.append(self.struct())
        tile_dtype = choice(self.ch, TILE_DTYPES) if self.policy.on("tiles") else None
        if tile_dtype:
            body.append(self.tile_size())
        for _ in range(self.policy.n_helpers):
            body.append(self.helper(tile_dtype))
        kernel = self.tile_kernel(tile_dtype) if tile_dtype else self.kernel()
        body.append(kernel)
        return ast.fix_missing_locations(ast.Module(body=body, type_ignores=[])), kernel.name

    # --------------------------------------------------------------- helpers

    def new_scope(self) -> Scope:
        """A function's scope: it sees the module's constants."""
        scope = Scope()
        for var in self.constants:
            scope.declare(var)
        return scope

    def constant(self) -> ast.stmt:
        """`NAME = wp.constant(literal)`: a module-level constant (float, int or vector)."""
        ty = choice(self.ch, [t for t in self.types if t.family in ("scalar", "vec")])
        value = self.literal(ty)
        name = self.names.fresh(CONSTANT_NAMES)
        self.constants.append(Var(name, ty, mutable=False, bound=value.bound))
        self._unrolled.add(name)  # never converted (docs/warp_findings/cast_retypes_constant.py)
        return ast.Assign(targets=[_store(name)], value=call("wp.constant", value.node))

    def struct(self) -> ast.ClassDef:
        """`@wp.struct class Name: fields`: value fields, maybe a nested struct and an array."""
        fields: list[tuple[str, WType | StructType | ArrayType]] = []
        for _ in range(self.ch.integer(1, 3)):
            fields.append((self.names.fresh(FIELD_NAMES), choice(self.ch, self.types)))
        if self.structs and self.ch.boolean(0.6):
            fields.append((self.names.fresh(FIELD_NAMES), choice(self.ch, self.structs)))
        if self.ch.boolean(0.5):
            dtype = choice(self.ch, self.types)
            fields.append((self.names.fresh(FIELD_NAMES), ArrayType(dtype, self.policy.launch_ndim)))
        struct = StructType(self.names.fresh(STRUCT_NAMES), tuple(fields))
        self.structs.append(struct)
        body: list[ast.stmt] = [
            ast.AnnAssign(target=_store(n), annotation=_annotation(t.annotation), value=None, simple=1)
            for n, t in fields
        ]
        return ast.ClassDef(
            name=struct.name,
            bases=[],
            keywords=[],
            body=body,
            decorator_list=[wp_attr("struct")],
            type_params=[],
        )

    def struct_fields(self, path: str, struct: StructType, *, parameter: bool) -> None:
        """Make the fields under `path` visible: read-only ones of a parameter, mutable ones of a local.

        A parameter's array fields are inputs (launch-shaped, like array parameters); a local's
        arrays are never initialised, so they stay invisible.
        """
        for name, ty in struct.fields:
            sub = f"{path}.{name}"
            if isinstance(ty, StructType):
                self.struct_fields(sub, ty, parameter=parameter)
            elif isinstance(ty, ArrayType):
                if parameter:
                    self.scope.inputs.append((sub, ty))
            else:
                bound = safety.settle(ty, safety.MAX_EXTENT) if parameter else safety.VAR_BOUND
                self.scope.declare(Var(sub, ty, mutable=not parameter, bound=bound))

    def struct_local(self) -> list[ast.stmt]:
        """`s = Body()`, then its fields are variables (`s.mass = ...`)."""
        if not self.structs:
            return self.declare()
        struct = choice(self.ch, self.structs)
        name = self.names.fresh(("st", "rec", "item", "cell"))
        self.struct_fields(name, struct, parameter=False)
        return [ast.Assign(targets=[_store(name)], value=call(struct.name))]

    def helper(self, unary: WType | None = None) -> ast.FunctionDef:
        """`@wp.func def name(params) -> T: statements; return expr` (or `return a, b`).

        A helper may overload an earlier one (same name, other parameter types) and call
        earlier helpers, never itself: call chains are recursion-free.  `unary`: the
        helper maps one value of that type to another (for `wp.tile_map`).
        """
        outer, self.scope = self.scope, self.new_scope()
        params = []
        for _ in range(1 if unary else self.ch.integer(1, 3)):
            ty = unary or choice(self.ch, self.types)
            var = Var(self.names.fresh(VAR_NAMES[ty.kind]), ty, mutable=False)
            self.scope.declare(var)
            params.append(var)
        n_results = 2 if not unary and self.ch.boolean(0.25) else 1
        results = (unary,) if unary else tuple(choice(self.ch, self.types) for _ in range(n_results))
        body = self.block(self.ch.integer(0, 3), simple=True)
        values = [self.expression(t, self.policy.max_expr_depth) for t in results]
        value = values[0].node if n_results == 1 else ast.Tuple(elts=[v.node for v in values], ctx=ast.Load())
        body.append(ast.Return(value=value))
        param_types = tuple(p.type for p in params)
        name = self.overloaded_name(param_types, results) or self.names.fresh(HELPER_NAMES)
        self.scope = outer
        self.helpers.append(Helper(name, param_types, results, max(v.bound for v in values)))
        return ast.FunctionDef(
            name=name,
            args=_arguments([(p.name, p.type.annotation) for p in params]),
            body=body,
            decorator_list=[wp_attr("func")],
            returns=_annotation(results[0].annotation) if n_results == 1 else None,
            type_params=[],
        )

    def overloaded_name(self, params: tuple[WType, ...], results: tuple[WType, ...]) -> str | None:
        """The name of an earlier helper this one may overload: same arity, other first parameter."""
        names = [
            h.name
            for h in self.helpers
            if len(h.params) == len(params) and h.params[0] != params[0] and len(h.results) == len(results)
        ]
        clashes = {h.name for h in self.helpers if h.params == params}
        names = [n for n in names if n not in clashes]
        if names and self.ch.boolean(0.4):
            return choice(self.ch, names)
        return None

    # --------------------------------------------------------------- kernel

    def kernel(self) -> ast.FunctionDef:
        """`@wp.kernel def name(arrays, scalars): prologue; statements; final stores`."""
        self.scope = self.new_scope()
        params = self.kernel_parameters()
        body = self.prologue()
        if self.policy.on("random"):
            body += self.random_state()
        body += self.block(self.policy.statements, required=self.required_statements())
        body += self.final_stores()
        return self.kernel_def(params, body)

    def kernel_def(self, params: list[tuple[str, str]], body: list[ast.stmt]) -> ast.FunctionDef:
        name = f"{choice(self.ch, KERNEL_VERBS)}_{choice(self.ch, KERNEL_NOUNS)}"
        return ast.FunctionDef(
            name=name,
            args=_arguments(params),
            body=body,
            decorator_list=[wp_attr("kernel")],
            returns=None,
            type_params=[],
        )

    # --------------------------------------------------------------- tiles

    def tile_kernel(self, dtype: WType) -> ast.FunctionDef:
        """A tile kernel: each thread block loads square tiles of its inputs at its own tile
        index, transforms them (`tile_map`, `tile_transpose`, `+`, `-`), stores one tile, and
        maybe adds a reduction (`tile_sum`, `tile_reduce`, ...) into an accumulator atomically.

        Launch contract: 2-d launch over tiles, arrays of shape launch * TILE.
        """
        size = self.tile_size_name
        tid = (self.names.fresh(("i",)), self.names.fresh(("j",)))
        arrays = [self.names.fresh(ARRAY_NAMES) for _ in range(self.policy.n_inputs)]
        out = self.names.fresh(OUTPUT_NAMES)
        acc = self.names.fresh(ACC_NAMES) if self.ch.boolean(0.5) else None
        matrix = ArrayType(dtype, 2)
        params = [(a, matrix.annotation) for a in (*arrays, out)]
        params += [(acc, ArrayType(dtype, 1).annotation)] if acc else []
        shape = ast.Tuple(elts=[_load(size), _load(size)], ctx=ast.Load())
        offset = ast.Tuple(elts=[binop(_load(t), ast.Mult(), _load(size)) for t in tid], ctx=ast.Load())
        target = ast.Tuple(elts=[_store(t) for t in tid], ctx=ast.Store())
        body: list[ast.stmt] = [ast.Assign(targets=[target], value=call("wp.tid"))]
        tiles: list[str] = []
        for a in arrays:
            load = call("wp.tile_load", _load(a), shape=shape, offset=offset)
            body.append(self.tile_assign(tiles, load))
        for _ in range(self.policy.statements):
            body.append(self.tile_assign(tiles, self.tile_op(dtype, tiles)))
        body.append(ast.Expr(value=call("wp.tile_store", _load(out), _load(tiles[-1]), offset=offset)))
        if acc:
            body.append(ast.Expr(value=call("wp.tile_atomic_add", _load(acc), self.tile_reduction(tiles))))
        return self.kernel_def(params, body)

    def tile_size(self) -> ast.stmt:
        """`TILE = wp.constant(8)`: the side of the square tiles."""
        self.tile_size_name = self.names.fresh(("TILE", "TILE_SIZE", "BLOCK"))
        value = call("wp.constant", ast.Constant(choice(self.ch, (4, 8, 16))))
        return ast.Assign(targets=[_store(self.tile_size_name)], value=value)

    def tile_assign(self, tiles: list[str], value: ast.expr) -> ast.stmt:
        name = self.names.fresh(("t", "tile", "blk", "tt"))
        tiles.append(name)
        return ast.Assign(targets=[_store(name)], value=value)

    def tile_op(self, dtype: WType, tiles: list[str]) -> ast.expr:
        """A new tile of the same shape from earlier ones."""
        a, b = _load(choice(self.ch, tiles)), _load(choice(self.ch, tiles))
        unary = [*_tile_functions(dtype, 1), *(_load(h.name) for h in self.helpers)]
        kind = choice(self.ch, ("map", "map", "map2", "transpose", "arith"))
        if kind == "map":
            return call("wp.tile_map", choice(self.ch, unary), a)
        if kind == "map2":
            return call("wp.tile_map", choice(self.ch, _tile_functions(dtype, 2)), a, b)
        if kind == "transpose":
            return call("wp.tile_transpose", a)
        return binop(a, choice(self.ch, (ast.Add, ast.Sub))(), b)

    def tile_reduction(self, tiles: list[str]) -> ast.expr:
        """A one-element tile: `tile_sum`, `tile_max`, `tile_min` or `tile_reduce(op, t)`."""
        t = _load(choice(self.ch, tiles))
        kind = choice(self.ch, ("tile_sum", "tile_max", "tile_min", "tile_reduce"))
        if kind == "tile_reduce":
            return call("wp.tile_reduce", wp_attr(choice(self.ch, TILE_REDUCE_OPS)), t)
        return call(f"wp.{kind}", t)

    def kernel_parameters(self) -> list[tuple[str, str]]:
        """Input, output and accumulator arrays, then scalar parameters."""
        p, ndim = self.policy, self.policy.launch_ndim
        array_types = [t for t in self.types if t is not BOOL]
        atomic_types = [t for t in array_types if _atomic_ops(t)]
        groups = (
            (self.scope.inputs, p.n_inputs, ARRAY_NAMES, array_types),
            (self.scope.outputs, p.n_outputs, OUTPUT_NAMES, array_types),
            (self.scope.accumulators, 1 if p.on("atomics") else 0, ACC_NAMES, atomic_types),
        )
        params = []
        for group, count, pool, dtypes in groups:
            for _ in range(count):
                arr = ArrayType(choice(self.ch, dtypes), ndim)
                name = self.names.fresh(pool)
                group.append((name, arr))
                params.append((name, arr.annotation))
        if self.structs:
            struct = choice(self.ch, self.structs)
            name = self.names.fresh(("params", "body", "cfg", "prm"))
            self.struct_fields(name, struct, parameter=True)
            params.append((name, struct.annotation))
        if p.on("scalar_params"):
            for _ in range(self.ch.integer(1, 2)):
                ty = choice(self.ch, [t for t in self.types if t.is_scalar])
                bound = safety.settle(ty, safety.MAX_EXTENT)
                var = Var(self.names.fresh(VAR_NAMES[ty.kind]), ty, mutable=False, bound=bound)
                self.scope.declare(var)
                params.append((var.name, ty.annotation))
        return params

    def prologue(self) -> list[ast.stmt]:
        """`i = wp.tid()`, and optionally an early return for threads outside the outputs."""
        names = choice(self.ch, [t for t in TID_NAMES if len(t) == self.policy.launch_ndim])
        names = tuple(self.names.fresh((n,)) for n in names)
        self.scope.tid = names
        for d, name in enumerate(names):
            self.scope.declare(Var(name, INT32, mutable=False, bound=safety.MAX_EXTENT))
            self.scope.index_vars[d] = [name]
        target = (
            ast.Tuple(elts=[_store(n) for n in names], ctx=ast.Store())
            if len(names) > 1
            else _store(names[0])
        )
        stmts: list[ast.stmt] = [ast.Assign(targets=[target], value=call("wp.tid"))]
        if self.policy.guard_launch:
            out = self.scope.outputs[0][0]
            tests = [
                ast.Compare(left=_load(n), ops=[ast.GtE()], comparators=[_shape(out, d)])
                for d, n in enumerate(names)
            ]
            test = tests[0] if len(tests) == 1 else ast.BoolOp(op=ast.Or(), values=tests)
            stmts.append(ast.If(test=test, body=[ast.Return(value=None)], orelse=[]))
        return stmts

    def random_state(self) -> list[ast.stmt]:
        """`rng = wp.rand_init(seed, i)`: a per-thread random state for `wp.randf(rng)` and friends."""
        name = self.names.fresh(("rng", "state", "seed_state"))
        self.scope.declare(Var(name, UINT32, bound=safety.type_max(UINT32)))
        seed = ast.Constant(self.ch.integer(0, 2**16))
        return [
            ast.Assign(targets=[_store(name)], value=call("wp.rand_init", seed, _load(self.scope.tid[0])))
        ]

    def required_statements(self) -> list[str]:
        """Statement kinds the policy's focus needs at least once."""
        p = self.policy
        needed = [kind for kind, switch in _STATEMENT_SWITCHES.items() if p.on(switch)]
        if p.on("nesting"):
            needed.append("nest")
        if p.on("math"):
            needed.append("math")
        if p.on("matrices"):
            needed.append("matrix")
        elif p.on("vectors"):
            needed.append("vector")
        return needed

    def final_stores(self) -> list[ast.stmt]:
        """Each output array gets a value at this thread's index: the kernel's result."""
        stmts = []
        for name, arr in self.scope.outputs:
            value = self.stored_value(arr.dtype, self.policy.max_expr_depth)
            stmts.append(
                ast.Assign(
                    targets=[_subscript(name, [_load(n) for n in self.scope.tid], ast.Store())],
                    value=value.node,
                )
            )
        return stmts

    # --------------------------------------------------------------- blocks

    def block(self, n: int, required: list[str] | None = None, simple: bool = False) -> list[ast.stmt]:
        """`n` statements (at least one of each `required` kind, at random places) in a new frame.

        Free kinds are drawn as the block is generated, so the compound-statement budget holds.
        """
        kinds: list[str | None] = [None] * n
        required = [*(required or []), *self._pending]
        self._pending = []
        for kind in required:
            kinds.insert(self.ch.integer(0, len(kinds)), kind)
        stmts: list[ast.stmt] = []
        for kind in kinds:
            stmts += self.statement(kind or self.statement_kind(simple))
        return stmts

    def statement_kind(self, simple: bool) -> str:
        weights = dict(self.weights)
        deep = self.scope.block_depth >= self.policy.max_block_depth
        if simple or deep or self.compounds >= MAX_COMPOUND_STATEMENTS:
            for compound in ("if", "for", "while"):
                weights.pop(compound, None)
        if simple:
            for kind in ("store", "atomic"):
                weights.pop(kind, None)
        if self.scope.loop_depth and self.policy.on("break_continue"):
            weights["break"] = 0.4
        kinds = sorted(weights)
        return self.ch.weighted(kinds, [weights[k] for k in kinds])

    def statement(self, kind: str) -> list[ast.stmt]:
        productions: dict[str, Callable[[], list[ast.stmt]]] = {
            "declare": self.declare,
            "assign": self.assign,
            "augassign": self.augassign,
            "store": self.store,
            "component_store": self.component_store,
            "atomic": self.atomic,
            "if": self.if_statement,
            "for": self.for_statement,
            "while": self.while_statement,
            "break": self.break_continue,
            "nest": self.nested_statement,
            "math": lambda: self.declare_with(self.math_call),
            "unpack": self.unpack,
            "struct_local": self.struct_local,
            "vector": lambda: self.declare_kind("vector"),
            "matrix": lambda: self.declare_kind("matrix"),
        }
        return productions[kind]()

    def nested(self, body: Callable[[], list[ast.stmt]], *, loop_trips: int = 0) -> list[ast.stmt]:
        """Run `body` one block deeper (inside a new frame, maybe inside a loop)."""
        self.compounds += 1
        s = self.scope
        s.frames.append([])
        s.block_depth += 1
        if loop_trips:
            s.loop_depth += 1
            s.trips *= loop_trips
        try:
            return body()
        finally:
            s.frames.pop()
            s.block_depth -= 1
            if loop_trips:
                s.loop_depth -= 1
                s.trips //= loop_trips

    def inner_block(self) -> list[ast.stmt]:
        """The body of a compound statement: never empty."""
        return self.block(self.ch.integer(1, 3)) or [ast.Pass()]

    # --------------------------------------------------------------- simple statements

    def declare(self) -> list[ast.stmt]:
        """`name = expression` for a fresh variable."""
        return self.declare_typed(choice(self.ch, self.types))

    def declare_typed(self, ty: WType) -> list[ast.stmt]:
        return self.declare_with(lambda: self.expression(ty, self.policy.max_expr_depth))

    def unpack(self) -> list[ast.stmt]:
        """`a, b = helper(...)` or `U, s, V = wp.svd3(A)`: tuple unpacking of a multi-result call."""
        helpers = [h for h in self.helpers if h.returns is None]
        builtins = [b for b in multi_result_builtins() if all(t in self.types for t in b.params)]
        if not helpers and not builtins:
            return self.declare()
        depth = self.policy.max_expr_depth - 1
        if helpers and (not builtins or self.ch.boolean()):
            h = choice(self.ch, helpers)
            value, results, bound = self.call_helper(h, depth), h.results, h.bound
        else:
            b = choice(self.ch, builtins)
            args = [self.argument(b, k, depth) for k in range(len(b.params))]
            if any(a is None for a in args):
                return self.declare()
            value, results, bound = call(b.spelling, *(a.node for a in args if a)), b.results, 0
        names = [self.names.fresh(VAR_NAMES[t.kind]) for t in results]
        for name, ty in zip(names, results, strict=True):
            self.scope.declare(Var(name, ty, bound=min(bound, safety.VAR_BOUND) if ty.is_int_based else 0))
        target = ast.Tuple(elts=[_store(n) for n in names], ctx=ast.Store())
        return [ast.Assign(targets=[target], value=value)]

    def declare_kind(self, kind: str) -> list[ast.stmt]:
        """A declaration of one of the kernel's vector (or matrix) types."""
        return self.declare_typed(choice(self.ch, [t for t in self.types if t.kind == kind]))

    def declare_with(self, make: Callable[[], Expr]) -> list[ast.stmt]:
        value = self.assignable(make())
        name = self.names.fresh(VAR_NAMES[value.type.kind])
        self.scope.declare(Var(name, value.type))
        return [ast.Assign(targets=[_store(name)], value=value.node)]

    def assignable(self, value: Expr) -> Expr:
        """A value fit to initialise or overwrite a variable.

        Literals get their type's constructor (Warp needs `float(0.0)`, not
        `0.0`, for a variable it may later mutate), ints are narrowed.
        """
        ty = value.type
        if isinstance(value.node, ast.Constant | ast.UnaryOp) and ty.is_scalar:
            return Expr(call(ty.annotation, value.node), ty, value.bound)
        if not ty.is_int_based or safety.wraps(ty) or value.bound <= safety.ASSIGN_BOUND:
            return value
        if ty.is_scalar:
            return self.narrowed(value)
        return self.literal(ty)  # an int vector cannot be narrowed in one step

    def narrowed(self, value: Expr) -> Expr:
        target = choice(self.ch, safety.NARROW_TARGETS)
        node, bound = safety.narrow(value.node, value.type, target, modulus=self.ch.boolean())
        return Expr(node, value.type, bound)

    def assign(self) -> list[ast.stmt]:
        """`existing = expression` of the same type."""
        candidates = self.scope.variables(mutable=True)
        if not candidates:
            return self.declare()
        var = choice(self.ch, candidates)
        value = self.assignable(self.expression(var.type, self.policy.max_expr_depth))
        return [ast.Assign(targets=[_store(var.name)], value=value.node)]

    def augassign(self) -> list[ast.stmt]:
        """`x op= expression` through an operator overload `(T, U) -> T`."""
        candidates = self.scope.variables(mutable=True)
        if not candidates:
            return self.declare()
        var = choice(self.ch, candidates)
        ops = [
            b
            for b in builtins_returning(var.type.warp_name)
            if b.name in BINARY_OPERATORS
            and len(b.params) == 2
            and b.params[0] == var.type
            and self.allowed(b)
            and self._augassign_ok(b)
        ]
        if not ops:
            return self.assign()
        op = choice(self.ch, ops)
        rhs = self.argument(op, 1, self.policy.max_expr_depth - 1)
        if rhs is None:
            return self.assign()
        if var.type.is_int_based and op.name in ("add", "sub"):
            if rhs.bound > safety.AUG_DELTA:
                if not rhs.type.is_scalar:
                    return self.assign()
                rhs = self.narrowed_to(rhs, safety.AUG_DELTA)
            self.int_augassigns += 1
        return [ast.AugAssign(target=_store(var.name), op=BINARY_OPERATORS[op.name](), value=rhs.node)]

    def _augassign_ok(self, b: Builtin) -> bool:
        if not b.returns.is_int_based:
            return b.name in ("add", "sub", "mul", "div")
        if b.name in ("add", "sub"):
            return self.int_augassigns < safety.MAX_INT_AUGASSIGNS and self.scope.trips <= safety.MAX_TRIPS
        return b.name in ("mod", "floordiv", "bit_and")

    def narrowed_to(self, value: Expr, target: int) -> Expr:
        node, bound = safety.narrow(value.node, value.type, target, modulus=False)
        return Expr(node, value.type, bound)

    def store(self) -> list[ast.stmt]:
        """`out[tid] = value`: outputs are written only at this thread's own index."""
        name, arr = choice(self.ch, self.scope.outputs)
        value = self.stored_value(arr.dtype, self.policy.max_expr_depth)
        index = [_load(n) for n in self.scope.tid]
        return [ast.Assign(targets=[_subscript(name, index, ast.Store())], value=value.node)]

    def stored_value(self, ty: WType, depth: int) -> Expr:
        value = self.expression(ty, depth)
        if ty.is_int_based and value.bound > safety.ARRAY_INT_BOUND:
            value = self.narrowed(value) if ty.is_scalar else self.literal(ty)
        return value

    def component_store(self) -> list[ast.stmt]:
        """`v[k] = s`, `M[r, c] = s`, `v.x = s` or `t.p = v` on a vector, matrix or transform variable."""
        candidates = [v for v in self.scope.variables(mutable=True) if not v.type.is_scalar]
        # Warp 1.19 rejects `s.t.p = v` for a transform field of a struct ("assigning
        # transform attribute p to an array element"): only transforms held in variables
        candidates = [v for v in candidates if not ("." in v.name and v.type.family == "transform")]
        if not candidates:
            return self.declare()
        var = choice(self.ch, candidates)
        target, ty = self.component_of(var, ast.Store())
        value = self.expression(ty, self.policy.max_expr_depth - 1)
        if ty.is_int_based and value.bound > safety.ASSIGN_BOUND:
            value = self.narrowed(value)
        return [ast.Assign(targets=[target], value=value.node)]

    def component_of(self, var: Var, ctx: ast.expr_context) -> tuple[ast.expr, WType]:
        """A component of `var` by index or attribute name, and its type."""
        attributes = _ATTRIBUTES.get(var.type.family, {})
        if var.type.family == "transform" or (attributes and self.ch.boolean(0.4)):
            names = sorted(a for a, length in attributes.items() if length <= var.type.length)
            attr = choice(self.ch, names)
            node = ast.Attribute(value=_load(var.name), attr=attr, ctx=ctx)
            return node, _component_type(var.type, attr)
        index = [ast.Constant(self.ch.integer(0, d - 1)) for d in var.type.shape]
        return _subscript(var.name, index, ctx), BY_WARP_NAME[var.type.scalar]

    def atomic(self) -> list[ast.stmt]:
        """`wp.atomic_op(acc, index, value...)` or `acc[index] += value` on an accumulator array."""
        if not self.scope.accumulators:
            return self.store()
        name, arr = choice(self.ch, self.scope.accumulators)
        op = choice(self.ch, _atomic_ops(arr.dtype))
        values = [self.atomic_value(op, arr.dtype) for _ in range(2 if op == "atomic_cas" else 1)]
        index = [self.index(arr, d) for d in range(arr.ndim)]
        if op == "atomic_add" and self.ch.boolean(0.3):
            target = _subscript(name, index, ast.Store())
            return [ast.AugAssign(target=target, op=ast.Add(), value=values[0].node)]
        return [ast.Expr(value=call(f"wp.{op}", _load(name), *index, *(v.node for v in values)))]

    def atomic_value(self, op: str, ty: WType) -> Expr:
        """An operand of `op`: |value| <= 1 for int add/sub, so accumulators never overflow."""
        value = self.expression(ty, self.policy.max_expr_depth - 1)
        if ty.is_int_based and not safety.wraps(ty):
            limit = 1 if op in ("atomic_add", "atomic_sub") else safety.ARRAY_INT_BOUND
            if value.bound > limit:
                value = self.narrowed_to(value, limit)
        return value

    def break_continue(self) -> list[ast.stmt]:
        """`if condition: break` (or continue) inside a loop."""
        jump = ast.Break() if self.ch.boolean() else ast.Continue()
        return [ast.If(test=self.condition(1), body=[jump], orelse=[])]

    # --------------------------------------------------------------- compound statements

    def if_statement(self) -> list[ast.stmt]:
        """`if c: ... [elif c: ...]* [else: ...]`."""
        test = self.condition(2 if self.policy.on("compound") else 0)
        body = self.nested(self.inner_block)
        orelse: list[ast.stmt] = []
        if self.policy.on("elifs") and self.compounds < MAX_COMPOUND_STATEMENTS and self.ch.boolean(0.6):
            orelse = self.nested(self.if_statement)
        elif self.ch.boolean(0.5):
            orelse = self.nested(self.inner_block)
        return [ast.If(test=test, body=body, orelse=orelse)]

    def for_statement(self) -> list[ast.stmt]:
        """`for k in range(bound)`: a constant, `wp.static(...)`, an int parameter, or an array extent."""
        ranges: list[tuple[str, int | str]] = []
        if self.scope.unrolled * 8 <= MAX_UNROLLED:
            ranges += [("const", self.ch.integer(2, 8)), ("static", self.ch.integer(2, 6))]
        dynamic_ok = self.scope.trips * safety.MAX_EXTENT <= safety.MAX_TRIPS
        int_params = [
            v for v in self.scope.variables(INT32) if not v.mutable and v.name not in self.scope.tid
        ]
        if dynamic_ok and int_params:
            ranges.append(("param", choice(self.ch, int_params).name))
        if dynamic_ok:
            ranges.append(("shape", self.ch.integer(0, self.policy.launch_ndim - 1)))
        if not ranges:
            return self.declare()
        kind, arg = choice(self.ch, ranges)
        loop_var = self.names.fresh(LOOP_NAMES)
        if kind == "const":
            bound_node, trips = ast.Constant(arg), int(arg)
        elif kind == "static":
            bound_node, trips = self.static_bound(int(arg))
        elif kind == "param":
            bound_node, trips = _load(str(arg)), safety.MAX_EXTENT
        else:
            array = choice(self.ch, self.scope.inputs)[0]
            bound_node, trips = _shape(array, int(arg)), safety.MAX_EXTENT

        if kind in ("const", "static"):
            self._unrolled.add(loop_var)

        def body() -> list[ast.stmt]:
            self.scope.declare(Var(loop_var, INT32, mutable=False, bound=trips))
            if kind == "shape":
                self.scope.index_vars.setdefault(int(arg), []).append(loop_var)
            try:
                return self.inner_block()
            finally:
                if kind == "shape":
                    self.scope.index_vars[int(arg)].remove(loop_var)

        unroll = trips if kind in ("const", "static") else 1
        self.scope.unrolled *= unroll
        stmts = self.nested(body, loop_trips=trips)
        self.scope.unrolled //= unroll
        return [ast.For(target=_store(loop_var), iter=call("range", bound_node), body=stmts, orelse=[])]

    def static_bound(self, n: int) -> tuple[ast.expr, int]:
        """`wp.static(n)` or `wp.static(CONST + n)`: a trip count evaluated at code generation."""
        constants = [c for c in self.constants if c.type == INT32 and c.bound <= 2]
        if constants and self.ch.boolean(0.6):
            const = choice(self.ch, constants)
            return call("wp.static", binop(_load(const.name), ast.Add(), ast.Constant(n))), const.bound + n
        return call("wp.static", ast.Constant(n)), n

    def while_statement(self) -> list[ast.stmt]:
        """`w = int(0)`, then `while w < C: w += 1; ...` (bounded by construction)."""
        if self.int_augassigns >= safety.MAX_INT_AUGASSIGNS or self.scope.trips * 8 > safety.MAX_TRIPS:
            return self.for_statement() if self.policy.on("loops") else self.declare()
        self.int_augassigns += 1
        counter = self.names.fresh(("w", "iters", "tries", "count"))
        limit = self.ch.integer(2, 8)
        self.scope.declare(Var(counter, INT32, mutable=False, bound=limit))
        test: ast.expr = ast.Compare(left=_load(counter), ops=[ast.Lt()], comparators=[ast.Constant(limit)])
        if self.policy.on("compound") and self.ch.boolean(0.3):
            test = ast.BoolOp(op=ast.And(), values=[test, self.condition(0)])
        step = ast.AugAssign(target=_store(counter), op=ast.Add(), value=ast.Constant(1))
        body = self.nested(self.inner_block, loop_trips=limit)
        init = ast.Assign(targets=[_store(counter)], value=call("int", ast.Constant(0)))
        return [init, ast.While(test=test, body=[step, *body], orelse=[])]

    def nested_statement(self) -> list[ast.stmt]:
        """A loop or if whose body holds another loop or if."""
        outer = choice(self.ch, [k for k in ("for", "if", "while") if k in self.weights])
        inner = choice(self.ch, [k for k in ("for", "if") if k in self.weights])
        self._pending = [inner]
        return self.statement(outer)

    # --------------------------------------------------------------- expressions

    def expression(self, ty: WType, depth: int) -> Expr:
        """Any expression of type `ty`, at most `depth` calls deep."""
        if ty == BOOL:
            return Expr(self.condition(min(depth, 1)), BOOL)
        options: list[tuple[float, Callable[[], Expr | None]]] = [(1.0, lambda: self.literal(ty))]
        if self.scope.variables(ty):
            options.append((4.0, lambda: self.variable(ty)))
        if any(a.dtype == ty for _, a in self.scope.inputs):
            options.append((2.5, lambda: self.array_read(ty)))
        if ty.is_scalar and self._component_vars(ty):
            options.append((1.0, lambda: self.component(ty)))
        if ty.family == "vec" and self._row_vars(ty):
            options.append((0.5, lambda: self.matrix_row(ty)))
        if depth > 0:
            options.append((5.0, lambda: self.builtin_call(ty, depth)))
            if any(h.returns == ty for h in self.helpers):
                options.append((1.5, lambda: self.helper_call(ty, depth)))
        for _ in range(4):
            make = self.ch.weighted([o[1] for o in options], [o[0] for o in options])
            result = make()
            if result is not None and safety.fits(ty, result.bound):
                return result
        return self.literal(ty)

    def literal(self, ty: WType) -> Expr:
        """A constant of type `ty`: scalar literal, or a constructor of literals."""
        if ty.is_scalar:
            value = self._scalar_value(ty)
            return Expr(number(ty, value), ty, int(abs(value)))
        if ty.kind == "matrix" and (ty.length > 16 or self.ch.boolean(0.3)):
            dtype = ast.Name(id="float", ctx=ast.Load()) if ty.scalar == "float32" else wp_attr(ty.scalar)
            return Expr(call("wp.identity", n=ast.Constant(ty.shape[0]), dtype=dtype), ty)
        scalar = BY_WARP_NAME[ty.scalar]
        values = [self._scalar_value(scalar) for _ in range(ty.length)]
        parts = [ast.Constant(v) for v in values]
        return Expr(call(ty.annotation, *parts), ty, int(max(abs(v) for v in values)))

    def _scalar_value(self, ty: WType) -> float:
        if ty.kind == "int":
            return self.ch.integer(0 if is_unsigned(ty) else -8, 16)
        if self.ch.boolean(0.6):
            return choice(self.ch, (0.0, 0.5, 1.0, 2.0, 0.25, 3.0, 10.0, 0.1, -1.0, 1.5, 0.01, 100.0))
        return round(self.ch.real(-10.0, 10.0), 3)

    def variable(self, ty: WType) -> Expr:
        var = choice(self.ch, self.scope.variables(ty))
        return Expr(_load(var.name), ty, safety.settle(ty, var.bound))

    def array_read(self, ty: WType) -> Expr:
        """`a[index]` on an input array of element type `ty`."""
        name, arr = choice(self.ch, [(n, a) for n, a in self.scope.inputs if a.dtype == ty])
        index = [self.index(arr, d) for d in range(arr.ndim)]
        return Expr(_subscript(name, index, ast.Load()), ty, safety.settle(ty, safety.ARRAY_INT_BOUND))

    def index(self, arr: ArrayType, dim: int) -> ast.expr:
        """A valid index along `dim`: the launch index, a loop over the extent, or a clamped int."""
        valid = self.scope.index_vars.get(dim, [])
        if valid and self.ch.boolean(0.7):
            return _load(choice(self.ch, valid))
        name = self._array_name(arr)
        value = self.expression(INT32, 1)
        upper = binop(_shape(name, dim), ast.Sub(), ast.Constant(1))
        return call("wp.clamp", value.node, ast.Constant(0), upper)

    def _array_name(self, arr: ArrayType) -> str:
        arrays = self.scope.inputs + self.scope.outputs + self.scope.accumulators
        return next(n for n, a in arrays if a is arr)

    def _component_vars(self, ty: WType) -> list[Var]:
        return [
            v
            for v in self.scope.variables()
            if not v.type.is_scalar and v.type.scalar == ty.warp_name and v.type.family != "transform"
        ]

    def component(self, ty: WType) -> Expr:
        """`v[k]`, `v.x` or `M[r, c]`: a scalar component of a vector or matrix variable."""
        var = choice(self.ch, self._component_vars(ty))
        node, _ = self.component_of(var, ast.Load())
        bound = safety.settle(ty, var.bound) if ty.is_int_based else 0
        return Expr(node, ty, bound)

    def _row_vars(self, ty: WType) -> list[Var]:
        return [
            v
            for v in self.scope.variables()
            if v.type.family == "mat" and v.type.shape[1:] == ty.shape and v.type.scalar == ty.scalar
        ]

    def matrix_row(self, ty: WType) -> Expr:
        var = choice(self.ch, self._row_vars(ty))
        row = ast.Constant(self.ch.integer(0, var.type.shape[0] - 1))
        return Expr(_subscript(var.name, [row], ast.Load()), ty)

    def allowed(self, b: Builtin) -> bool:
        """Whether the policy lets `b` appear: all its types are the kernel's, its family is on."""
        if any(t not in self._type_set for t in (*b.params, *b.results) if t is not BOOL):
            return False
        if b.name in self._math:
            return self.policy.on("math")
        return True

    def candidates(self, ty: WType) -> list[list[Builtin]]:
        """Allowed builtins returning `ty`, grouped by name in registry order (memoised per kernel).

        Drawing a name first, then one of its overloads, gives every builtin the same chance
        whatever its number of overloads (`where` has hundreds).
        """
        found = self._candidates.get(ty.warp_name)
        if found is None:
            groups: dict[str, list[Builtin]] = {}
            for b in builtins_returning(ty.warp_name):
                if self.allowed(b):
                    groups.setdefault(b.name, []).append(b)
            found = self._candidates[ty.warp_name] = list(groups.values())
        return found

    def builtin_call(self, ty: WType, depth: int) -> Expr | None:
        """An operator or `wp.` function returning `ty`, with guarded arguments."""
        candidates = self.candidates(ty)
        if not candidates:
            return None
        return self.apply(choice(self.ch, choice(self.ch, candidates)), depth)

    def math_call(self) -> Expr:
        """A call of a math builtin (so a math-focused kernel surely has one)."""
        candidates = [g for t in self.types for g in self.candidates(t) if g[0].name in self._math]
        for _ in range(4):
            result = self.apply(choice(self.ch, choice(self.ch, candidates)), self.policy.max_expr_depth)
            if result is not None:
                return result
        return self.expression(FLOAT32, self.policy.max_expr_depth)

    def apply(self, b: Builtin, depth: int) -> Expr | None:
        args = []
        for position in range(len(b.params)):
            arg = self.argument(b, position, depth - 1)
            if arg is None:
                return None
            args.append(arg)
        bound = 0
        if b.returns.is_int_based:
            raw = _int_range(b, args)
            if not safety.fits(b.returns, raw):
                return None
            bound = safety.settle(b.returns, raw)
        return Expr(_spell(b, [a.node for a in args]), b.returns, bound)

    def argument(self, b: Builtin, position: int, depth: int) -> Expr | None:
        """Argument `position` of `b`, guarded per `SAFETY`."""
        ty = b.params[position]
        value = self.expression(ty, max(depth, 0))
        name = value.node.id if isinstance(value.node, ast.Name) else None
        if b.name in CONVERSIONS and name in self._unrolled:
            return None  # Warp 1.19 retypes the loop variable or constant (docs/warp_findings)
        if b.family == "Random" and position == 0 and any(c.name == name for c in self.constants):
            return None  # a constant state does not compile (docs/warp_findings/random_state_constant.py)
        kinds = SAFETY.get(b.name, ())
        kind = kinds[position] if position < len(kinds) else None
        guarded = safety.guard(kind, value.node, ty, value.bound)
        if guarded is None:
            return None
        return Expr(guarded[0], ty, guarded[1])

    def helper_call(self, ty: WType, depth: int) -> Expr:
        helper = choice(self.ch, [h for h in self.helpers if h.returns == ty])
        return Expr(self.call_helper(helper, depth), ty, helper.bound)

    def call_helper(self, helper: Helper, depth: int) -> ast.expr:
        """`name(args)`; int arguments within the bound the helper assumes of its parameters."""
        args = []
        for ty in helper.params:
            arg = self.expression(ty, depth - 1)
            if ty.is_int_based and arg.bound > safety.VAR_BOUND:
                arg = self.narrowed(arg) if ty.is_scalar else self.literal(ty)
            args.append(arg.node)
        return call(helper.name, *args)

    def condition(self, depth: int) -> ast.expr:
        """A boolean: a comparison, or (with `compound`) and/or/not of conditions."""
        if depth > 0 and self.policy.on("compound") and self.ch.boolean(0.5):
            if self.ch.boolean(0.2):
                return ast.UnaryOp(op=ast.Not(), operand=self.condition(depth - 1))
            op = ast.And() if self.ch.boolean() else ast.Or()
            return ast.BoolOp(op=op, values=[self.condition(depth - 1), self.condition(depth - 1)])
        if self.candidates(BOOL) and self.ch.boolean(0.15):  # wp.isnan(x), not x ...
            predicate = self.builtin_call(BOOL, 1)
            if predicate is not None:
                return predicate.node
        ty = choice(self.ch, [t for t in self.types if t.is_scalar])
        ops = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq) if ty.kind == "int" else (ast.Lt, ast.Gt)
        left = self.expression(ty, 1)
        if self.policy.on("compound") and self.ch.boolean(0.2):
            # chained: lo < x < hi.  Warp 1.19 rejects an array element (or struct
            # field) anywhere in a chain (docs/warp_findings), so none of the three is one.
            lo, hi = self.expression(ty, 0), self.expression(ty, 0)
            if not any(_reads_array(e.node) for e in (lo, left, hi)):
                return ast.Compare(left=lo.node, ops=[ast.Lt(), ast.Lt()], comparators=[left.node, hi.node])
        right = self.expression(ty, 1)
        return ast.Compare(left=left.node, ops=[choice(self.ch, ops)()], comparators=[right.node])


# ----------------------------------------------------------------------------- AST helpers

#: Statement kinds a policy switch makes mandatory (at least one per kernel).
_STATEMENT_SWITCHES = {"for": "loops", "while": "whiles", "if": "ifs", "atomic": "atomics"}

#: Attribute names of components, with the vector length each needs (0: a transform's parts).
_ATTRIBUTES: dict[str, dict[str, int]] = {
    "vec": {"x": 1, "y": 2, "z": 3, "w": 4},
    "quat": {"x": 1, "y": 2, "z": 3, "w": 4},
    "transform": {"p": 0, "q": 0},
}


def _component_type(ty: WType, attr: str) -> WType:
    """Type of component `attr` of `ty`: a transform's translation or rotation, else a scalar."""
    suffix = SUFFIX[ty.scalar]
    parts = {"p": f"vec3{suffix}", "q": f"quat{suffix}"}
    return BY_WARP_NAME[parts.get(attr, ty.scalar)]


#: Blocks (bodies of if/elif/else, for, while) after which no further compound statement is drawn.
MAX_COMPOUND_STATEMENTS = 8

#: Most copies of a statement that nested unrolled loops (constant or `wp.static` ranges) may make.
MAX_UNROLLED = 16

#: Element types of tiles, and the operators `tile_reduce` folds with.
TILE_DTYPES = (FLOAT32, BY_WARP_NAME["float64"])
TILE_REDUCE_OPS = ("add", "max", "min")


def _tile_functions(dtype: WType, arity: int) -> list[ast.expr]:
    """`wp.f` for the registry's unguarded scalar functions `(dtype,)*arity -> dtype` (for `tile_map`)."""
    return [wp_attr(name) for name in _tile_function_names(dtype, arity)]


@cache
def _tile_function_names(dtype: WType, arity: int) -> tuple[str, ...]:
    return tuple(
        b.name
        for b in builtins_returning(dtype.warp_name)
        if b.params == (dtype,) * arity
        and b.family in ("Scalar Math", "Operators")
        and b.name not in SAFETY
        and b.name not in CONVERSIONS
        and b.name not in UNARY_OPERATORS
    )


#: Scalar dtypes Warp's atomics support on both backends, and the operations per kind.
_ATOMIC_SCALARS = ("float32", "float64", "int32", "uint32", "int64", "uint64")
_ATOMIC_OPS = {
    "float": ("atomic_add", "atomic_sub", "atomic_min", "atomic_max", "atomic_exch", "atomic_cas"),
    "int": ATOMICS,
    "vector": ("atomic_add", "atomic_sub"),
}


def _atomic_ops(ty: WType) -> tuple[str, ...]:
    """Atomic operations on an accumulator of element type `ty` (none: not an accumulator type)."""
    if ty.scalar not in _ATOMIC_SCALARS or (not ty.is_scalar and (ty.family != "vec" or ty.is_int_based)):
        return ()
    return _ATOMIC_OPS[ty.kind]


def _reads_array(node: ast.expr) -> bool:
    """An array element or a struct field: Warp sees a reference (`wp.ref[T]`), not a value."""
    return isinstance(node, ast.Subscript | ast.Attribute)


def _int_range(b: Builtin, args: list[Expr]) -> int:
    from grammar.builtins import INT_RANGE

    return INT_RANGE[b.name](*(max(a.bound, 1) for a in args))


def _spell(b: Builtin, args: list[ast.expr]) -> ast.expr:
    if b.name in BINARY_OPERATORS:
        return binop(args[0], BINARY_OPERATORS[b.name](), args[1])
    if b.name in UNARY_OPERATORS:
        return ast.UnaryOp(op=UNARY_OPERATORS[b.name](), operand=args[0])
    return call(b.spelling, *args)
