"""Value intervals (YARPGen's value ranges): where an expression's values lie when the kernel runs.

Every scalar, vector and matrix expression may carry a *span* `(lo, hi)`: every component of its
value lies in it for inputs inside the launch contract's typical draw (`INPUT_SPANS`).  Spans start
at the leaves (array elements, parameters, launch indices, loop variables, literals) and pass
through each builtin by its row of `builtins.VALUE_RANGE`.  `None` means unknown: anything goes.

The spans decide nothing about safety (`grammar.safety` does); they steer drawing so that a
comparison, a `wp.where`, a `min`/`max` or a saturating call is never settled before run time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from grammar.types import BY_WARP_NAME, WType, int_bits, is_unsigned

Span = tuple[float, float]
#: A builtin's range rule: the span of its result from those of its arguments (None: unknown).
SpanRule = Callable[..., "Span | None"]

#: Where inputs lie in the runs that check kernels (`check.execute` draws them so, inside the
#: launch contract): float elements and parameters, int array elements, int parameters, launch
#: indices and array extents.
INPUT_SPANS: dict[str, Span] = {
    "float": (-2.0, 2.0),
    "int_array": (-1000.0, 1000.0),
    "int_param": (-12.0, 12.0),
    "index": (0.0, 7.0),
}
#: Two spans *overlap* when their common part is at least this share of the wider one, and a
#: value *straddles* a point when at least this share of its span lies on each side of it.
MARGIN = 0.2


def type_span(ty: WType) -> Span | None:
    """The values of a scalar type (None for floats: they need no clipping)."""
    if ty.kind == "bool":
        return (0.0, 1.0)
    if not ty.is_int_based:
        return None
    bits = int_bits(ty)
    return (0.0, 2.0**bits - 1) if is_unsigned(ty) else (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1)


def input_span(ty: WType, array: bool) -> Span | None:
    """The span of an array element (`array`) or a scalar parameter of `ty`, as inputs are drawn."""
    if ty.kind == "bool":
        return (0.0, 1.0)
    if ty.kind == "float" or (not ty.is_scalar and not ty.is_int_based):
        return INPUT_SPANS["float"]
    lo, hi = INPUT_SPANS["int_array" if array else "int_param"]
    limits = type_span(BY_WARP_NAME[ty.scalar])
    assert limits is not None
    return (max(lo, limits[0]), min(hi, limits[1]))  # drawn within the type's values too


def within(span: Span | None, ty: WType) -> Span | None:
    """`span` if a value of `ty` holds it unchanged: clipped to the type's range, None where a
    wrap or truncation would leave it (an unsigned subtraction)."""
    limits = type_span(ty) if ty.is_scalar or ty.is_int_based else None
    if span is None or limits is None:
        return span
    if ty.kind != "bool" and (span[0] < limits[0] or span[1] > limits[1]):
        return None
    return span


def point(value: float) -> Span:
    return (float(value), float(value))


def hull(*spans: Span | None) -> Span | None:
    """The smallest span holding all of `spans` (None if any is unknown)."""
    if not spans or any(s is None for s in spans):
        return None
    return (min(s[0] for s in spans), max(s[1] for s in spans))  # type: ignore[index]


def width(span: Span) -> float:
    return span[1] - span[0]


def overlapping(a: Span | None, b: Span | None, margin: float = MARGIN) -> bool:
    """Whether either of two values may be the larger (unknown spans may): their common part is at
    least `margin` of the wider span."""
    if a is None or b is None:
        return True
    common = min(a[1], b[1]) - max(a[0], b[0])
    wider = max(width(a), width(b))
    return common > 0 and common >= margin * wider if wider > 0 else a == b


def straddles(span: Span | None, at: float = 0.0) -> bool:
    """Whether a value of `span` may lie on either side of `at`, with the margin."""
    if span is None:
        return True
    margin = MARGIN * width(span)
    return span[0] + margin < at < span[1] - margin if margin > 0 else False


def settled(span: Span | None) -> bool:
    """A truth value (or any value) that is the same for every input."""
    return span is not None and span[0] == span[1]


# ----------------------------------------------------------------------------- rules


def _safe(f: Callable[[float], float]) -> Callable[[float], float]:
    def g(x: float) -> float:
        try:
            y = f(x)
        except (OverflowError, ValueError):
            return math.inf if x > 0 else -math.inf
        return y if math.isfinite(y) else (math.inf if y > 0 else -math.inf)

    return g


def increasing(f: Callable[[float], float]) -> SpanRule:
    """The rule of a nondecreasing function of one argument: its values at the ends."""
    f = _safe(f)

    def rule(x: Span | None, *_: Span | None) -> Span | None:
        return None if x is None else _finite((f(x[0]), f(x[1])))

    return rule


def decreasing(f: Callable[[float], float]) -> SpanRule:
    f = _safe(f)

    def rule(x: Span | None, *_: Span | None) -> Span | None:
        return None if x is None else _finite((f(x[1]), f(x[0])))

    return rule


def bounded(lo: float, hi: float) -> SpanRule:
    """The rule of a function whose values lie in [lo, hi] whatever its arguments."""
    return lambda *_: (lo, hi)


def _finite(span: Span) -> Span | None:
    return span if all(math.isfinite(v) for v in span) else None


def _known(rule: Callable[..., Span | None]) -> SpanRule:
    """A rule of arguments that must all be known."""

    def known(*spans: Span | None) -> Span | None:
        if any(s is None for s in spans):
            return None
        span = rule(*spans)
        return None if span is None else _finite(span)

    return known


def _products(a: Span, b: Span) -> Span:
    ends = [x * y for x in a for y in b]
    return (min(ends), max(ends))


def square(a: Span) -> Span:
    """The span of `x * x` (not `x * y` with the span of `x` twice: a square is never negative)."""
    low = 0.0 if a[0] <= 0 <= a[1] else min(a[0] ** 2, a[1] ** 2)
    return (low, max(a[0] ** 2, a[1] ** 2))


def _modulo(a: Span, m: Span) -> Span:
    """C remainder: its sign is the dividend's, its magnitude below the divisor's."""
    top = max(abs(m[0]), abs(m[1])) - 1
    return (0.0 if a[0] >= 0 else max(a[0], -top), 0.0 if a[1] <= 0 else min(a[1], top))


def _quotient(a: Span, b: Span) -> Span | None:
    if b[0] <= 0 <= b[1]:
        return None
    return _products(a, (1 / b[1], 1 / b[0]))


def _magnitude(a: Span) -> Span:
    return (0.0 if a[0] <= 0 <= a[1] else min(abs(a[0]), abs(a[1])), max(abs(a[0]), abs(a[1])))


def _clamp(x: Span | None, lo: Span | None, hi: Span | None) -> Span | None:
    """Between the bounds whatever `x` is (an unknown `x` too: a clamp bounds a loop's running value)."""
    if lo is None or hi is None:
        return None
    if x is None:
        return (lo[0], max(lo[0], hi[1]))
    return (min(max(x[0], lo[0]), hi[1]), max(min(x[1], hi[1]), lo[0]))


def _power(base: Span, exponent: Span) -> Span | None:
    """`base ** exponent` for a positive base (`pow` guards it, `|x| + 1`): monotone in each
    argument, so its extremes lie at the corners."""
    if base[0] <= 0:
        return None
    corners = [_safe(lambda e, b=b: b**e)(e) for b in base for e in exponent]
    return (min(corners), max(corners))


def _cross(a: Span, b: Span) -> Span:
    """A component of `a x b`, `a_y b_z - a_z b_y`: a difference of two products."""
    p = _products(a, b)
    return (p[0] - p[1], p[1] - p[0])


def _sign(x: float) -> float:
    return float((x > 0) - (x < 0))


ADD = _known(lambda a, b: (a[0] + b[0], a[1] + b[1]))
SUB = _known(lambda a, b: (a[0] - b[1], a[1] - b[0]))
MUL = _known(_products)
DIV = _known(_quotient)
MOD = _known(_modulo)
NEG = _known(lambda a: (-a[1], -a[0]))
ABS = _known(_magnitude)
MIN = _known(lambda *s: (min(x[0] for x in s), min(x[1] for x in s)))
MAX = _known(lambda *s: (max(x[0] for x in s), max(x[1] for x in s)))
CLAMP: SpanRule = _clamp
POW = _known(_power)
CROSS = _known(_cross)
SIGN = increasing(_sign)
STEP = decreasing(lambda x: float(x < 0))
TRUNCATE = increasing(math.trunc)
