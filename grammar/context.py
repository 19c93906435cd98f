"""What a production sees and what it still owes: typed values, scope, and pending values.

Data flow is the backbone of synthesis (Csmith's "every computed value is
observable").  Every value a kernel computes, and every parameter it is
passed, is *pending* from the moment it exists until something reads it.
Expressions draw their leaves preferably from pending values, a block that
closes folds what is still pending in it into an outer variable, and the
kernel's final stores fold in whatever is left.  Reads are tracked per
*key*: a variable's name, an input array's name, or a struct parameter's name
for all of its fields.  So every local is read, every parameter is read, and
whatever a statement computes reaches an output.

An expression also says whether it reads any runtime value (`live`: a call of
constants only is never generated) and whether it depends on a kernel input
(`tainted`: every output must), data and control dependence both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from grammar import safety, spans
from grammar.astnodes import load
from grammar.choices import Choices
from grammar.names import Names
from grammar.policy import Policy
from grammar.spans import Span
from grammar.types import BFLOAT16, ArrayType, WType

#: What decides which builtins a kernel may call: its types, differentiable policy, math switch.
Allowance = tuple[frozenset[WType], bool, bool]


@dataclass(frozen=True)
class Expr:
    """A typed expression: `bound` bounds |value| of int ones; `reads` are the keys it reads;
    `span` is where its values (every component) lie when run (`grammar.spans`; None: unknown)."""

    node: ast.expr
    type: WType
    bound: int = 0
    reads: frozenset[str] = frozenset()
    live: bool = False  # reads a runtime value, not only literals and constants
    tainted: bool = False  # depends on a kernel input
    span: Span | None = None

    @staticmethod
    def of(
        node: ast.expr, ty: WType, parts: Iterable[Expr], bound: int = 0, span: Span | None = None
    ) -> Expr:
        """An expression built from `parts`: it reads what they read."""
        parts = list(parts)
        return Expr(
            node,
            ty,
            bound,
            frozenset().union(*(p.reads for p in parts)),
            any(p.live for p in parts),
            any(p.tainted for p in parts),
            spans.within(span, ty),
        )


@dataclass
class Var:
    """A variable, parameter, loop variable, struct field path (`s.mass`) or module constant."""

    name: str
    type: WType
    mutable: bool = True
    bound: int = safety.VAR_BOUND  # |value| of ints
    key: str = ""  # liveness key: its own name unless it is a field of a struct parameter
    tainted: bool = False
    constant: bool = False  # a module-level `wp.constant`: read like a literal
    zero: bool = False  # holds the zero an accumulation starts from, until assigned
    opaque: bool = False  # the random state: read only by the builtins that take it (its value is noise)
    span: Span | None = None  # where its values lie (`grammar.spans`): every value assigned so far

    def __post_init__(self) -> None:
        self.key = self.key or self.name

    @property
    def is_value(self) -> bool:
        """Whether an expression may read it as a value: not a constant, not the random state."""
        return not (self.constant or self.opaque)


@dataclass(frozen=True)
class Array:
    """An array parameter (or an array field of a struct parameter, `prm.data`)."""

    name: str
    type: ArrayType
    key: str


@dataclass(frozen=True)
class Helper:
    """A `@wp.func` the kernel may call; `key` is pending until some function calls it."""

    key: str
    name: str
    params: tuple[WType, ...]
    results: tuple[WType, ...]  # several: the helper returns a tuple
    bound: int  # int return magnitude (of every result)

    @property
    def returns(self) -> WType | None:
        """The single result's type (None for a tuple-returning helper)."""
        return self.results[0] if len(self.results) == 1 else None


@dataclass(frozen=True)
class Handle:
    """An object handle parameter (a mesh, BVH, hash grid or volume id, a texture): no variable,
    read only by geometry queries (`grammar.geometry`); `key` pending until one reads it."""

    name: str
    kind: str  # mesh, bvh, hash_grid, volume, texture2d, texture3d
    detail: str = ""  # a volume's value type: f, v or i

    @property
    def key(self) -> str:
        return self.name


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
    """One function's variables by block, its arrays, loop context, and what is still pending."""

    frames: list[list[Var]] = field(default_factory=lambda: [[]])
    inputs: list[Array] = field(default_factory=list)
    outputs: list[Array] = field(default_factory=list)
    accumulators: list[Array] = field(default_factory=list)
    written: set[str] = field(default_factory=set)  # outputs stored, accumulators updated
    tid: tuple[str, ...] = ()
    loop_depth: int = 0
    block_depth: int = 0
    trips: int = 1  # product of trip-count bounds of the enclosing loops
    unrolled: int = 1  # product of trip counts of the enclosing loops Warp unrolls (code size)
    index_vars: dict[int, list[str]] = field(default_factory=dict)  # launch dim -> valid index names
    control: list[bool] = field(default_factory=list)  # per enclosing block: its test is input-tainted
    pending: dict[str, None] = field(default_factory=dict)  # keys not read yet (insertion-ordered)

    def variables(self, ty: WType | None = None, mutable: bool = False) -> list[Var]:
        found = [v for frame in self.frames for v in frame]
        if ty is not None:
            found = [v for v in found if v.type is ty]
        if mutable:
            found = [v for v in found if v.mutable]
        return found

    def values(self, ty: WType | None = None) -> list[Var]:
        """Variables whose value an expression may read: not constants, not the random state."""
        return [v for v in self.variables(ty) if v.is_value]

    def declare(self, var: Var, pending: bool = True) -> None:
        self.frames[-1].append(var)
        if pending:
            self.pending[var.key] = None

    def consume(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.pending.pop(key, None)

    def pending_vars(self) -> list[Var]:
        return [v for v in self.variables() if v.key in self.pending]

    def pending_arrays(self) -> list[Array]:
        return [a for a in self.inputs if a.key in self.pending]

    @property
    def control_tainted(self) -> bool:
        return any(self.control)


class Gen:
    """The state of generating one module under one policy, shared by the productions.

    The productions themselves are functions in `expressions`, `simple`,
    `statements`, `definitions`, `tiles` and `kernel`; this holds what they share.
    """

    def __init__(self, ch: Choices, policy: Policy):
        self.ch = ch
        self.policy = policy
        self.names = Names(ch)
        self.scope = Scope()
        self.helpers: list[Helper] = []
        self.uncalled: dict[str, None] = {}  # keys of helpers no function calls yet
        self.constants: list[Var] = []
        self.structs: list[StructType] = []
        self.types = policy.types
        self.storable = tuple(t for t in policy.types if t is not BFLOAT16)  # parameters, fields, constants
        self.type_set = frozenset(policy.types)
        self.weights: dict[str, float] = {}
        self.required: list[str] = []  # statement kinds the next block must contain
        self.nesting: tuple[str, str] | None = None  # (outer, inner) kinds of the next nested statement
        self.unrolled: set[str] = set()  # unrolled loop variables and constants (never converted)
        self.int_augassigns = 0
        self.compounds = 0  # blocks opened so far (bounds the size of the generated code)
        self.in_helper = False
        self.fallbacks = 0  # nesting of `expressions.fallback`
        self.rng: Var | None = None  # the kernel's random state (`wp.rand_init`), if any
        self.handles: list[Handle] = []  # object handle parameters (geometry)
        # declarations due before a compound statement, with the frame depth it is emitted at
        self.prelude: list[tuple[int, ast.stmt]] = []
        self.allowance: Allowance = (self.type_set, policy.differentiable, policy.on("math"))
        self.derived: dict[str, frozenset[str]] = {}  # a variable's key -> the keys its values came from

    def use(self, e: Expr) -> ast.expr:
        """`e` goes into the program: what it reads (and the helpers it calls) are no longer pending."""
        self.scope.consume(e.reads)
        for key in e.reads:
            self.uncalled.pop(key, None)
        return e.node

    def assigned(self, var: Var, value: Expr) -> None:
        """`var` now holds `value` (already used): pending, tainted by data or control."""
        var.tainted = value.tainted or self.scope.control_tainted
        # in a loop a later trip may assign again from what this one assigned: unknown
        var.span = None if self.scope.loop_depth else spans.hull(var.span, value.span)
        var.zero = False
        self.derived[var.key] = self.derived.get(var.key, frozenset()) | self.sources(value)
        self.scope.pending[var.key] = None

    def sources(self, e: Expr) -> frozenset[str]:
        """What `e`'s value comes from: the inputs, parameters and variables it reads, through the
        variables it reads (what the spans of two values cannot see they share)."""
        return frozenset().union(*(self.derived.get(k, frozenset({k})) | {k} for k in e.reads))

    def read(self, var: Var) -> Expr:
        """A read of `var` as an expression."""
        bound = safety.settle(var.type, var.bound) if var.type.is_int_based else 0
        return Expr(
            load(var.name), var.type, bound, frozenset({var.key}), not var.constant, var.tainted, var.span
        )

    def take_prelude(self) -> list[ast.stmt]:
        """The declarations due before the compound statement now being emitted."""
        depth = len(self.scope.frames) - 1
        due = [stmt for d, stmt in self.prelude if d == depth]
        self.prelude = [(d, stmt) for d, stmt in self.prelude if d != depth]
        return due

    def new_scope(self, kernel: bool) -> Scope:
        """A function's scope: it sees the module's constants, which the kernel must read."""
        scope = Scope()
        for const in self.constants:
            scope.declare(const, pending=kernel)
        return scope
