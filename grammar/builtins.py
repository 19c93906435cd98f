"""The builtin table, derived from Warp's own registry.

Like hypothesmith derives strategies from libCST's node classes in one loop,
this module walks Warp's registry once and keeps every concrete overload whose
parameter and return types are in the grammar's type universe
(`grammar.types`).  What is left out is an explicit table with a reason per
name (`EXCLUDED`).  A new Warp release then needs no new productions: the
table refreshes itself, and `tests/test_warp_contract.py` notices changes.

Safety (Csmith's safe-math idea) is data too: `SAFETY` lists, per builtin, how
each argument is guarded so the call is defined for every input, and
`INT_RANGE` says how a builtin transforms integer magnitude bounds, so integer
expressions never overflow.  An integer overload without a range rule is not
generated.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from emit import warp_private
from grammar.types import BY_WARP_NAME, WType

#: Registry names never generated, and why.  Everything else whose types fit is.
EXCLUDED: dict[str, str] = {
    "tid": "launch index: emitted once by the kernel prologue",
    "block_dim": "launch geometry: only meaningful with tiles",
    "print": "I/O side effect: output is not part of the kernel's result",
    "printf": "I/O side effect: output is not part of the kernel's result",
    "expect_eq": "test assertion, prints on failure",
    "expect_neq": "test assertion, prints on failure",
    "expect_near": "test assertion, prints on failure",
    "assign": "internal codegen helper for component stores",
    "int": "float-to-int conversion of an out-of-range value is undefined; ints come from int expressions",
    "int32": "float-to-int conversion of an out-of-range value is undefined; ints come from int expressions",
    "bool": "conditions are built from comparisons",
    "erfcinv": "domain (0, 2) with poles at the ends; erfinv covers the family",
    "erfinv": "poles at +-1 make gradients and cross-device comparison meaningless",
    "bit_count": "no float/int mixing needed; integer range rule not modelled",
    "intersect_tri_tri": "geometry predicate with many degenerate cases; not a kernel-language feature",
    "closest_point_edge_edge": "geometry query with degenerate parallel-edge cases",
    "lshift": "left shift of a negative value is undefined in C++17; rshift covers shifts",
    "nonzero": "identical to step's negation; kept out to keep labels readable",
}

#: Registry operator names, spelled as Python operators.
BINARY_OPERATORS: dict[str, type[ast.operator]] = {
    "add": ast.Add,
    "sub": ast.Sub,
    "mul": ast.Mult,
    "div": ast.Div,
    "floordiv": ast.FloorDiv,
    "mod": ast.Mod,
    "bit_and": ast.BitAnd,
    "bit_or": ast.BitOr,
    "bit_xor": ast.BitXor,
    "rshift": ast.RShift,
}
UNARY_OPERATORS: dict[str, type[ast.unaryop]] = {"neg": ast.USub, "pos": ast.UAdd, "invert": ast.Invert}

#: Conversions spelled as calls of the target type's constructor.
CONVERSIONS = {"float": "float", "float32": "wp.float32", "float64": "wp.float64"}


@dataclass(frozen=True)
class Builtin:
    """One concrete, generatable overload of a Warp builtin."""

    name: str  # registry name
    family: str  # registry group, e.g. "Scalar Math"
    params: tuple[WType, ...]
    returns: WType
    differentiable: bool

    @property
    def spelling(self) -> str:
        """How generated source calls it: an operator symbol or a `wp.` function."""
        if self.name in BINARY_OPERATORS or self.name in UNARY_OPERATORS:
            return self.name
        return CONVERSIONS.get(self.name, f"wp.{self.name}")

    @property
    def is_operator(self) -> bool:
        return self.family == "Operators"


# ----------------------------------------------------------------------------- safety

#: Argument guards: the name of a guard in `grammar.safety.GUARDS` per parameter
#: position (None: any value of the type is fine).
SAFETY: dict[str, tuple[str | None, ...]] = {
    "sqrt": ("positive",),
    "log": ("positive",),
    "log2": ("positive",),
    "log10": ("positive",),
    "acos": ("unit",),
    "asin": ("unit",),
    "exp": ("small",),
    "sinh": ("small",),
    "cosh": ("small",),
    "tan": ("small",),
    "pow": ("positive", "small"),
    "div": (None, "nonzero"),
    "floordiv": (None, "nonzero"),
    "mod": (None, "nonzero"),
    "cw_div": (None, "nonzero"),
    "rshift": (None, "shift"),
}

IntRange = Callable[..., int]

#: Magnitude bound of an integer result from the bounds of its integer arguments.
INT_RANGE: dict[str, IntRange] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "neg": lambda a: a,
    "pos": lambda a: a,
    "abs": lambda a: a,
    "sign": lambda a: 1,
    "step": lambda a: 1,
    "min": max,
    "max": max,
    "clamp": lambda x, lo, hi: max(lo, hi),
    "mod": lambda a, b: b,
    "floordiv": lambda a, b: a,
    "div": lambda a, b: a,
    "rshift": lambda a, b: a,
    "invert": lambda a: a + 1,
    # two's-complement bit ops stay within the next power of two
    "bit_and": lambda a, b: _pow2_above(max(a, b)),
    "bit_or": lambda a, b: _pow2_above(max(a, b)),
    "bit_xor": lambda a, b: _pow2_above(max(a, b)),
}


def _pow2_above(n: int) -> int:
    return 1 << n.bit_length()


def _is_int_overload(b: Builtin) -> bool:
    return b.returns.kind == "int" or any(p.kind == "int" for p in b.params)


@cache
def builtin_table() -> tuple[Builtin, ...]:
    """Every generatable builtin overload, in registry order."""
    table = []
    for o in warp_private.builtin_overloads():
        if o.name in EXCLUDED:
            continue
        params = tuple(BY_WARP_NAME.get(t) for _, t in o.params)
        returns = BY_WARP_NAME.get(o.returns)
        if returns is None or None in params or not params:
            continue
        b = Builtin(o.name, o.group, params, returns, o.differentiable)  # type: ignore[arg-type]
        if _is_int_overload(b) and b.returns.kind == "int" and b.name not in INT_RANGE:
            continue
        table.append(b)
    return tuple(table)


@cache
def builtins_returning(name: str) -> tuple[Builtin, ...]:
    """Overloads whose return type's warp name is `name`."""
    return tuple(b for b in builtin_table() if b.returns.warp_name == name)


#: Registry groups whose functions count as "math" for labels and policies.
MATH_GROUPS = ("Scalar Math", "Utility")


@cache
def math_builtin_names() -> frozenset[str]:
    """Generatable builtins that make a kernel "math" (not guards, casts or operators)."""
    from grammar.features import BASIC_BUILTINS

    return frozenset(
        b.name
        for b in builtin_table()
        if b.family in MATH_GROUPS and b.name not in BASIC_BUILTINS and b.name not in CONVERSIONS
    )
