"""Programs free of undefined behaviour by construction (Csmith's safe-math idea).

Two mechanisms, both static:

1. Argument guards.  A builtin with a restricted domain gets its argument
   wrapped (`builtins.SAFETY` says which guard per argument): `sqrt(|x|+1)`,
   `acos(clamp(x,-1,1))`, a divisor that cannot be zero ...
2. Integer magnitude bounds.  Every integer expression carries a bound on
   |value|; an operation whose result could exceed `INT_LIMIT` is not
   generated, and a value stored into a variable or array is narrowed first.

The bounds rely on the launch contract below, which the README states and
the execution checks (issue 4) obey.  Floats may become inf/nan, which is
defined behaviour; out-of-range float->int conversion, which is not, is never
generated (see `builtins.EXCLUDED`).
"""

from __future__ import annotations

import ast

from grammar import spans
from grammar.astnodes import binop, call, number
from grammar.spans import Span
from grammar.types import BY_WARP_NAME, WType, int_bits, is_unsigned

# ----------------------------------------------------------------------------- launch contract

#: Largest array extent per dimension, launch extent per dimension, and |int scalar parameter|.
MAX_EXTENT = 256
#: |element| of an int input array, and of anything a kernel stores to an int array.
ARRAY_INT_BOUND = 2**20

# ----------------------------------------------------------------------------- derived bounds

#: No integer expression may exceed this magnitude (int32 holds 2**31 - 1).
INT_LIMIT = 2**30
#: A value assigned to an int variable is narrowed to this magnitude ...
ASSIGN_BOUND = 2**16
#: ... and `x += e` / `x -= e` on an int variable needs |e| <= AUG_DELTA, at most
#: MAX_INT_AUGASSIGNS such statements per kernel, each executed at most
#: MAX_TRIPS times (the product of the trip counts of the loops around it):
AUG_DELTA = 16
MAX_INT_AUGASSIGNS = 8
MAX_TRIPS = 2**12
#: so an int variable never exceeds ASSIGN_BOUND + 8 * 2**12 * 16 < VAR_BOUND, and a variable
#: is stored into an int array as it is (VAR_BOUND <= ARRAY_INT_BOUND).
VAR_BOUND = 2**20
assert VAR_BOUND <= ARRAY_INT_BOUND
assert ASSIGN_BOUND + MAX_INT_AUGASSIGNS * MAX_TRIPS * AUG_DELTA < VAR_BOUND
#: Atomic add/sub on int arrays uses |value| <= 1: at most MAX_EXTENT**2 threads
#: times MAX_TRIPS updates keeps the target below int32 (targets are never read).
assert ARRAY_INT_BOUND + MAX_EXTENT**2 * MAX_TRIPS < 2**31

# ----------------------------------------------------------------------------- integer dtypes
#
# `Expr.bound` bounds |component| of every integer-based expression.  C++
# promotes int8/int16/uint8/uint16 to int before arithmetic, so their
# intermediate results must stay within INT_LIMIT (uint16 * uint16 could
# overflow int), and the conversion back truncates (defined).  int32/int64
# never exceed INT_LIMIT.  uint32/uint64 arithmetic wraps, which is defined, so
# their intermediates are unbounded but their values are only known to fit the type.


def type_max(ty: WType) -> int:
    """Largest |value| of an integer-based type."""
    bits = int_bits(ty)
    return 2**bits - 1 if is_unsigned(ty) else 2 ** (bits - 1)


def wraps(ty: WType) -> bool:
    """Unsigned 32/64-bit arithmetic: wraps (defined), is never promoted, needs no bound."""
    return is_unsigned(ty) and int_bits(ty) >= 32


def fits(ty: WType, raw: int) -> bool:
    """Whether an operation on `ty` whose exact result is at most `raw` is free of overflow."""
    return not ty.is_int_based or wraps(ty) or raw <= INT_LIMIT


def settle(ty: WType, raw: int) -> int:
    """The bound of a value of `ty` computed as at most `raw` (after any wrap or truncation)."""
    if not ty.is_int_based:
        return 0
    if is_unsigned(ty):
        return type_max(ty)
    return min(raw, type_max(ty))


# ----------------------------------------------------------------------------- guards


def guard(kind: str | None, node: ast.expr, ty: WType, bound: int) -> tuple[ast.expr, int] | None:
    """Wrap `node` (of type `ty`, int magnitude `bound`) so it satisfies guard `kind`.

    Returns the new node and its bound, or None when this type cannot be guarded
    that way (the overload is then not generated).
    """
    if kind is None:
        return node, bound
    if ty.kind not in ("int", "float"):
        return None
    if kind == "positive" and ty.kind == "float":
        return binop(call("wp.abs", node), ast.Add(), number(ty, 1.0)), 0
    if kind == "unit" and ty.kind == "float":
        return call("wp.clamp", node, number(ty, -1.0), number(ty, 1.0)), 0
    if kind == "small" and ty.kind == "float":
        return call("wp.clamp", node, number(ty, -8.0), number(ty, 8.0)), 0
    if kind == "nonzero":
        if ty.kind == "float":
            return binop(call("wp.abs", node), ast.Add(), number(ty, 1.0)), 0
        if is_unsigned(ty):
            return call("wp.max", node, number(ty, 1)), bound
        return call("wp.max", call("wp.abs", node), number(ty, 1)), max(bound, 1)
    if kind == "period" and ty.kind == "int":  # a period or modulus: at least 1
        if is_unsigned(ty):
            return call("wp.max", node, number(ty, 1)), max(bound, 1)
        return call("wp.max", call("wp.abs", node), number(ty, 1)), max(bound, 1)
    if kind == "count" and is_unsigned(ty):
        return call("wp.min", node, number(ty, MAX_COUNT)), MAX_COUNT
    if kind == "shift" and ty.kind == "int":
        return call("wp.clamp", node, number(ty, 0), number(ty, min(31, int_bits(ty) - 1))), 31
    return None


#: A literal inside each guard's domain, for an argument that needs no runtime value.
IN_DOMAIN: dict[str, float] = {
    "positive": 2.0,
    "unit": 0.5,
    "small": 2.0,
    "nonzero": 2.0,
    "count": 4,
    "shift": 3,
    "period": 4,
}


def guarded_span(kind: str | None, span: Span | None, ty: WType) -> Span | None:
    """The span (`grammar.spans`) of a value of `span` after guard `kind`."""
    one = spans.point(1.0)
    if kind is None:
        return span
    if kind in ("positive", "nonzero") and ty.kind == "float":
        return spans.ADD(spans.ABS(span), one)
    if kind in ("nonzero", "period"):
        return spans.MAX(span if is_unsigned(ty) else spans.ABS(span), one)
    ends = {"unit": (-1.0, 1.0), "small": (-8.0, 8.0), "count": (0.0, MAX_COUNT), "shift": (0.0, 31.0)}[kind]
    return spans.CLAMP(span, spans.point(ends[0]), spans.point(ends[1]))


#: Largest loop count a builtin is given (`curlnoise` octaves): its run time is linear in it.
MAX_COUNT = 8

#: Magnitudes an int value is narrowed to, when it must be (round numbers read naturally).
NARROW_TARGETS = (255, 1000, 1024, 4096, 65536)


def narrow(node: ast.expr, ty: WType, target: int, modulus: bool) -> tuple[ast.expr, int]:
    """Bring an int expression within magnitude `target`, by remainder or by clamp.

    Unsigned values and vectors (component-wise `v % wp.vec3i(1024)`) always take the remainder.
    """
    if not ty.is_scalar:
        scalar = BY_WARP_NAME[ty.scalar]
        return binop(node, ast.Mod(), call(ty.annotation, number(scalar, target))), target - 1
    if modulus or is_unsigned(ty):
        return binop(node, ast.Mod(), number(ty, target)), target - 1
    return call("wp.clamp", node, number(ty, -target), number(ty, target)), target
