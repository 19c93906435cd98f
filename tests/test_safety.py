"""Safe math, checked by running it: every guard keeps every value of every dtype in its builtin's
domain, narrowing keeps ints within their target, and the integer range rules hold at their extremes.

The guarded expressions are compiled by Warp (one module) and run on CPU on values Hypothesis draws,
extremes included, so C++'s own semantics (promotion, truncating `%`, wrapping) are what is tested.
"""

import ast
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grammar import safety
from grammar.astnodes import call, subscript
from grammar.builtins import INT_RANGE, SAFETY
from grammar.sample import sample
from grammar.types import BFLOAT16, FLOAT32, INT32, SCALARS, SPELLINGS, WType, int_bits, is_unsigned
from warp_access import WarpModule

#: Each guard's domain: what the guarded value must satisfy.
DOMAINS = {
    "positive": lambda v, ty: v > 0,
    "unit": lambda v, ty: -1 <= v <= 1,
    "small": lambda v, ty: -8 <= v <= 8,
    "nonzero": lambda v, ty: v != 0,
    "count": lambda v, ty: 0 <= v <= safety.MAX_COUNT,
    "shift": lambda v, ty: 0 <= v <= min(31, int_bits(ty) - 1),
    "period": lambda v, ty: v >= 1,
}
assert set(DOMAINS) == {k for kinds in SAFETY.values() for k in kinds if k} == set(safety.IN_DOMAIN)

X = subscript("x", [ast.Name(id="i", ctx=ast.Load())], ast.Load())
#: Integer operations whose `INT_RANGE` rule is checked, as the grammar spells them on int32.
RANGES = {
    "add": "x[i] + y[i]",
    "sub": "x[i] - y[i]",
    "mul": "x[i] * y[i]",
    "min": "wp.min(x[i], y[i])",
    "max": "wp.max(x[i], y[i])",
    "bit_xor": "x[i] ^ y[i]",
    "bit_or": "x[i] | y[i]",
    "mod": "x[i] % wp.max(wp.abs(y[i]), 1)",
}


def _input_bound(ty: WType) -> int:
    """The largest |value| an int expression of `ty` may have (what a guard is given); 0 for floats."""
    if not ty.is_int_based:
        return 0
    return safety.type_max(ty) if safety.wraps(ty) else min(safety.INT_LIMIT, safety.type_max(ty))


def _stored(ty: WType) -> WType:
    """The dtype of the test's arrays for values of `ty`: bfloat16 values are locals only (converted
    from and to float32 arrays), as in generated kernels."""
    return FLOAT32 if ty == BFLOAT16 else ty


def _operand(ty: WType) -> ast.expr:
    """`x[i]` as a value of `ty`."""
    return call("wp.bfloat16", X) if ty == BFLOAT16 else X


def _kernel(name: str, ty: WType, node: ast.expr, inputs: int = 1) -> str:
    """`out[i] = node` over arrays x (and y) of `ty` (stored as `_stored(ty)`)."""
    stored = _stored(ty)
    params = ", ".join(f"{p}: wp.array(dtype={stored.annotation})" for p in (*"xy"[:inputs], "out"))
    value = call(stored.annotation, node) if stored != ty else node
    return f"@wp.kernel\ndef {name}({params}):\n    i = wp.tid()\n    out[i] = {ast.unparse(value)}\n"


def _cases():
    """(kernel name, dtype, what it checks) for every guard, narrowing and int range rule."""
    cases, sources = [], []
    for ty in SCALARS:
        for kind in DOMAINS:
            made = safety.guard(kind, _operand(ty), ty, _input_bound(ty) if ty.is_int_based else 0)
            if made is not None:
                name = f"guard_{kind}_{ty.warp_name}"
                cases.append((name, ty, ("guard", kind, made[1])))
                sources.append(_kernel(name, ty, made[0]))
        if ty.is_int_based:
            for modulus in (False, True):
                node, bound = safety.narrow(X, ty, 1000, modulus)
                name = f"narrow_{int(modulus)}_{ty.warp_name}"
                cases.append((name, ty, ("narrow", bound)))
                sources.append(_kernel(name, ty, node))
    for name, spelled in RANGES.items():
        cases.append((f"range_{name}", INT32, ("range", name)))
        sources.append(_kernel(f"range_{name}", INT32, ast.parse(spelled, mode="eval").body, inputs=2))
    return cases, "import warp as wp\n\n" + "\n\n".join(sources)


CASES, SOURCE = _cases()


@pytest.fixture(scope="module")
def module():
    """The cases' kernels built once for the CPU: Hypothesis launches them on many values here (the
    executor's job a launch is, drawn inputs per the launch contract, is not what these tests need)."""
    import warp as wp

    with WarpModule("safety_cases", SOURCE) as built:
        wp.load_module(built.warp_module, device="cpu")
        yield built.py_module


def _run(module, name: str, ty: WType, *arrays: np.ndarray) -> np.ndarray:
    import warp as wp

    dtype = getattr(wp, _stored(ty).warp_name)
    args = [wp.array(a, dtype=dtype, device="cpu") for a in arrays]
    out = wp.zeros(len(arrays[0]), dtype=dtype, device="cpu")
    wp.launch(getattr(module, name), dim=len(arrays[0]), inputs=[*args, out], device="cpu")
    return out.numpy()


def _values(ty: WType, bound: int):
    """Values of `ty` with |value| <= bound, extremes always included."""
    np_type = np.dtype(_stored(ty).warp_name)
    if ty.kind == "float":
        finite = st.floats(width=np_type.itemsize * 8, allow_nan=False, allow_infinity=False)
        extremes = [0.0, -1.0, float(np.finfo(np_type).max), float(np.finfo(np_type).min)]
        return st.lists(finite, min_size=1, max_size=16).map(lambda v: np.array([*v, *extremes], np_type))
    lo = 0 if is_unsigned(ty) else max(-bound, np.iinfo(np_type).min)
    hi = min(bound, np.iinfo(np_type).max)
    ints = st.integers(lo, hi)
    return st.lists(ints, min_size=1, max_size=16).map(lambda v: np.array([*v, lo, hi, 0], np_type))


@pytest.mark.parametrize("name,ty,check", CASES, ids=[c[0] for c in CASES])
@settings(max_examples=25)
@given(data=st.data())
def test_guards_narrowing_and_int_ranges_hold_when_run(module, name, ty, check, data):
    if check[0] == "range":
        bounds = [data.draw(st.integers(1, safety.INT_LIMIT)) for _ in range(2)]
        raw = INT_RANGE[check[1]](*bounds)
        if not safety.fits(ty, raw):
            return  # the grammar does not generate this combination
        x, y = (data.draw(_values(ty, b)) for b in bounds)
        n = min(len(x), len(y))
        out = _run(module, name, ty, x[:n], y[:n])
        assert np.all(np.abs(out.astype(np.int64)) <= raw), (x[:n], y[:n], out)
        return
    x = data.draw(_values(ty, _input_bound(ty)))
    out = _run(module, name, ty, x)
    values = [int(v) if ty.is_int_based else float(v) for v in out]
    if check[0] == "narrow":
        assert all(abs(v) <= check[1] for v in values), (x, out)
        return
    _, kind, bound = check
    for v in values:
        if ty.kind == "float" and not math.isfinite(v):
            continue  # huge finite inputs may round to inf: floats have no undefined behaviour
        assert DOMAINS[kind](v, ty), (kind, x, out)
        assert not ty.is_int_based or safety.wraps(ty) or abs(v) <= max(bound, 1), (kind, bound, x, out)


@pytest.mark.parametrize("kind", sorted(DOMAINS))
def test_literals_standing_in_for_guarded_constants_are_in_the_domain(kind):
    """An argument that needs no runtime value gets `safety.IN_DOMAIN[kind]` instead of a guard."""
    for ty in SCALARS:
        if safety.guard(kind, X, ty, 1) is not None:
            assert DOMAINS[kind](safety.IN_DOMAIN[kind], ty), (kind, ty)


#: The operators and builtins that divide by their second operand.
DIVISIONS = (ast.Div, ast.FloorDiv, ast.Mod)
DIVIDING_CALLS = ("wp.div", "wp.floordiv", "wp.mod", "wp.cw_div")


def _divisors(tree: ast.AST) -> list[ast.expr]:
    """The divisor of every `/`, `//` and `%`, and of every dividing builtin, in `tree`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, DIVISIONS):
            found.append(node.right)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in DIVIDING_CALLS:
            found.append(node.args[1])
    return found


def _non_negative(node: ast.expr) -> bool:
    """`node` is >= 0 by its form: positive, `wp.abs(e)`, or `e * e`."""
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "wp.abs":
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return ast.dump(node.left) == ast.dump(node.right)
    return _positive(node)


def _positive(node: ast.expr) -> bool:
    """`node` is > 0 (every component) by its form alone, whatever its operands hold: a positive
    literal, a type conversion of positives, `wp.max(e, p)`, `n + p` with n >= 0, `wp.sqrt(p)`."""
    if isinstance(node, ast.Constant):
        return type(node.value) in (int, float) and node.value > 0
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return (_positive(node.left) and _non_negative(node.right)) or (
            _non_negative(node.left) and _positive(node.right)
        )
    if not isinstance(node, ast.Call):
        return False
    name = ast.unparse(node.func).removeprefix("wp.")
    if name == "max":
        return any(_positive(a) for a in node.args)
    if name == "sqrt" or name in SPELLINGS:
        return bool(node.args) and all(_positive(a) for a in node.args)
    return False


def test_no_generated_kernel_divides_by_a_value_that_can_be_zero():
    """Every divisor is nonzero by construction: a nonzero literal, or a runtime value guarded
    (`wp.max(wp.abs(k), 1)`, `wp.abs(x) + 1.0`) as `SAFETY` says for div, floordiv, mod and cw_div."""
    runtime = 0
    for seed in range(200):
        for divisor in _divisors(sample(seed).tree):
            assert _positive(divisor), (seed, ast.unparse(divisor))
            runtime += _reads_a_value(divisor)
    assert runtime >= 20  # guarded runtime divisors, not only literals


def _reads_a_value(node: ast.expr) -> bool:
    """`node` reads a variable or an array element (not only literals and `wp.*` functions)."""
    return any(
        isinstance(n, ast.Subscript) or (isinstance(n, ast.Name) and n.id != "wp") for n in ast.walk(node)
    )
