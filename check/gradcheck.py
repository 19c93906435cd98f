"""Warp's backward pass (`wp.Tape`) against central finite differences.

The check is one directional derivative per kernel: with random weights `w` on
the float outputs (output and accumulator arrays) and a random direction `d` on
the float input arrays, the loss is `L(x) = sum(w * out(x))`; the adjoint gives
`g . d`, finite differences give `(L(x + h d) - L(x - h d)) / 2h`.

Tolerance (README, "Verification"): they agree when
`|ad - fd| <= GRADIENT_RTOL * max(|ad|, |fd|) + rounding`, where `rounding` bounds the
float error of the differenced losses: `ROUNDING_ULPS * eps * sum|w * out| / h`.
Finite differences are taken at `h`, `h / 2` and `h / 4` (STEPS): the adjoint
passes if it agrees with any of them (a kink, `wp.min(x, 0.0)` at x = 0.003,
spoils the larger steps that straddle it, measured on a generated kernel); if it
agrees with none and they disagree among themselves by the same tolerance, the
point sits on a kink or jump (a clamp, an `if` on a float) and the result is
`inconclusive`, not a mismatch.  When the adjoint and every finite difference are
exactly zero (no output depends on the inputs) nothing was compared: `trivial`,
never `passed`.

Kernels outside Warp's documented autodiff contract are labelled
`outside_contract` with the reasons (`contract_violations`), never reported as
findings: a loop-carried variable reassigned in a dynamic loop (measured with
Warp 1.19: the backward replays only the last iteration),
non-differentiable builtins on floats (by Warp's own typing of the kernel), float
atomic min/max, tile builtins Warp does not differentiate (`tile_max`, `tile_min`,
`tile_reduce`: their adjoint is zero) and non-differentiable functions mapped over a
tile (`wp.tile_map(wp.floor, t)`); the grammar's tiles hold floats only.

Kernels with float16 arrays among the differentiated ones are `not_checked`: a
float16 input moved by a step `h` is rounded to 11 bits (relative 5e-4), so a
central difference of a float16 loss says nothing at any tolerance that would
still catch a wrong adjoint.  Arrays held in struct parameters are inputs the
check holds fixed (only array parameters are differentiated).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import warp_access
from check.execute import Inputs, Param
from emit.lower import Kernel
from grammar.astnodes import wp_name
from grammar.builtins import nondifferentiable_on_floats

#: Relative tolerance per float type involved (float32 when any float32 array takes part).
GRADIENT_RTOL = {"float32": 2e-2, "float64": 1e-6}
#: Finite-difference step per float type.
STEP = {"float32": 1e-2, "float64": 1e-6}
#: Fractions of the step at which finite differences are taken.
STEPS = (1.0, 0.5, 0.25)
#: Units of machine epsilon allowed per output element in each differenced loss.
ROUNDING_ULPS = 8.0


#: The outcomes of a gradient check, and what each means.
GRADIENT_STATUSES = {
    "passed": "the adjoint matches a finite difference within the tolerance",
    "trivial": "adjoint and finite differences all zero: no derivative compared",
    "mismatch": "the adjoint disagrees with every finite difference, which agree among themselves",
    "float32_rounding": "a float32 mismatch the float64 twin and the adjoint's noise explain as rounding",
    "inconclusive": "nothing can be said (a kink or jump, non-finite values, a twin that does not confirm)",
    "outside_contract": "outside Warp's autodiff contract (`measured`: what the check would have said)",
    "not_differentiable": "no float input or output array, or no adjoint built (enable_backward=False)",
    "not_checked": "float16 or bfloat16 values: finite differences below their precision",
    "not_measured": "built without adjoints (shrinking a forward failure)",
}


@dataclass(frozen=True)
class GradResult:
    """The outcome of one gradient check (goes into a kernel's metadata as `as_dict`)."""

    status: str  # a row of GRADIENT_STATUSES
    reasons: list[str] = field(default_factory=list)
    measured: str | None = None  # outside the contract: what the check would have said (information)
    adjoint: float | None = None
    finite_difference: float | None = None
    tolerance: float | None = None
    adjoint_noise: float | None = None  # a float32 mismatch's: see `float32_rounding`
    float64: dict[str, Any] | None = None  # a float32 mismatch's float64 twin's result

    def __post_init__(self) -> None:
        if self.status not in GRADIENT_STATUSES:
            raise ValueError(f"unknown gradient-check status {self.status!r}")

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in (None, [])}


# ----------------------------------------------------------------------------- the contract


#: A declaration or parameter in Warp's C++: `wp::float32 var_3;`, `wp::vec_t<3, wp::float32>* var_8`.
_DECLARATION = re.compile(r"(wp::\w+(?:<[^;()]*?>)?|bool)\s*\*?\s+(var_\w+)\s*[;=,)]")
_CALL = re.compile(r"\bwp::(\w+)\(([^()]*)\)")


def float_nondifferentiable_calls(code: str) -> set[str]:
    """Names of the non-differentiable builtins that Warp's code for a kernel calls with a float argument.

    Warp's own typing decides (`wp::step(var_11)` with `wp::float64 var_11`), so
    `wp.step(i)` on an int index does not count.  Variable names repeat between
    functions, so a name's types are pooled (conservative).
    """
    types: dict[str, set[str]] = {}
    for ctype, var in _DECLARATION.findall(code):
        types.setdefault(var, set()).add(ctype)
    names = nondifferentiable_on_floats()
    return {
        name
        for name, args in _CALL.findall(code)
        if name in names and any("float" in t for arg in args.split(",") for t in types.get(arg.strip(), ()))
    }


def _is_dynamic(loop: ast.stmt) -> bool:
    """Warp 1.19 unrolls `for` over constant ranges (<= max_unroll, no break), `wp.static(...)`
    bounds included (evaluated at code generation); anything else loops."""
    if isinstance(loop, ast.While):
        return True
    assert isinstance(loop, ast.For)
    args = loop.iter.args if isinstance(loop.iter, ast.Call) else []
    constant = bool(args) and all(isinstance(a, ast.Constant) or wp_name(_func(a)) == "static" for a in args)
    has_break = any(isinstance(n, ast.Break) for s in loop.body for n in ast.walk(s))
    return not constant or has_break


def _func(node: ast.expr) -> ast.expr | None:
    return node.func if isinstance(node, ast.Call) else None


def _assigned(node: ast.AST) -> set[str]:
    names = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Assign | ast.AugAssign):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _defined_before(func: ast.FunctionDef, loop: ast.stmt) -> set[str]:
    """Names assigned anywhere in `func` outside `loop`, and `func`'s parameters."""
    inside = {id(n) for n in ast.walk(loop)}
    names = {a.arg for a in func.args.args}
    for n in ast.walk(func):
        if id(n) not in inside and isinstance(n, ast.Assign | ast.AugAssign):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def contract_violations(kernel: Kernel) -> list[str]:
    """Why the kernel is outside Warp's autodiff contract (empty: inside)."""
    reasons: set[str] = set()
    for func in (s for s in kernel.tree.body if isinstance(s, ast.FunctionDef)):
        for loop in ast.walk(func):
            dynamic = isinstance(loop, ast.For | ast.While) and _is_dynamic(loop)
            if dynamic and _assigned(loop) & _defined_before(func, loop):
                reasons.add("dynamic_loop_reassigns_carried_variable")
    reasons |= _tile_violations(kernel.definition)
    code = kernel.code("cpu")
    for name in float_nondifferentiable_calls(code.helpers + code.forward):
        reasons.add("atomic_min_max" if name.startswith("atomic_") else f"non_differentiable_builtin:{name}")
    return sorted(reasons)


#: Tile constructors of constants (`wp.tile_zeros(shape, dtype)`): Warp marks them not differentiable,
#: but they take nothing to differentiate.
TILE_CONSTANTS = frozenset({"tile_zeros", "tile_ones", "tile_arange"})


#: Tile builtins that write a tile argument in place, and that argument's position (`wp.tile_axpy(a, src,
#: dest)`, `wp.tile_matmul(a, b, out)`).  An earlier builtin's adjoint that needs the destination's old
#: value sees the new one: Warp documents it for `tile_matmul`'s `out` (correct only through linear
#: functions, NVIDIA/warp#1051), and a `tile_map` of a kinked helper before a `tile_axpy` into its
#: argument gets a wrong adjoint under 1.19 (fuzz seed 11, measured: the same update written `tt = tt +
#: tl * d` passes).
IN_PLACE_TILE = {"tile_axpy": 2, "tile_matmul": 2}


def _in_place_read_before(kernel: ast.FunctionDef) -> bool:
    """Whether a tile an in-place builtin writes is an argument of another call before it."""
    calls = sorted(
        (n for n in ast.walk(kernel) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset)
    )
    for n, call in enumerate(calls):
        place = IN_PLACE_TILE.get(wp_name(call.func) or "")
        if place is None or len(call.args) <= place or not isinstance(call.args[place], ast.Name):
            continue
        dest = call.args[place].id
        if any(isinstance(a, ast.Name) and a.id == dest for earlier in calls[:n] for a in earlier.args):
            return True
    return False


def _tile_violations(kernel: ast.FunctionDef) -> set[str]:
    """Non-differentiable tile builtins, non-differentiable functions given to `wp.tile_map`, and an
    in-place tile builtin writing a tile read before it (`IN_PLACE_TILE`)."""
    tile_builtins = warp_access.nondifferentiable_builtins("Tile Primitives") - TILE_CONSTANTS
    names = nondifferentiable_on_floats() | tile_builtins
    found = set()
    for node in ast.walk(kernel):
        name = wp_name(node.func) if isinstance(node, ast.Call) else None
        if name and name.startswith("tile_"):
            mapped = [wp_name(node.args[0])] if name == "tile_map" and node.args else []  # type: ignore[attr-defined]
            found |= {f"non_differentiable_builtin:{n}" for n in (name, *mapped) if n in names}
    if _in_place_read_before(kernel):
        found.add("in_place_tile_destination_read_before")
    return found


# ----------------------------------------------------------------------------- the check


def float_arrays(params: Sequence[Param]) -> tuple[list[Param], list[Param]]:
    """Float arrays differentiated with respect to (inputs), and of (outputs, accumulators)."""
    wrt = [p for p in params if p.role == "input" and p.is_float]
    of = [p for p in params if p.role in ("output", "accumulator") and p.is_float]
    return wrt, of


def gradient_contract(params: Sequence[Param], kernel: Kernel) -> tuple[GradResult | None, list[str]]:
    """(the result of a kernel whose gradient is not measured, or None), and why the kernel is outside
    Warp's autodiff contract (empty: inside).  Applied to the executor's numbers by `check.judge`."""
    wrt, of = float_arrays(params)
    if not wrt or not of:
        return GradResult("not_differentiable", ["no float input or output array"]), []
    if _backward_disabled(kernel.definition):  # @wp.kernel(enable_backward=False): no adjoint
        return GradResult("not_differentiable", ["enable_backward=False"]), []
    if any(p.numpy_dtype == np.float16 for p in (*wrt, *of)):
        return GradResult("not_checked", ["float16 arrays: finite differences below half precision"]), []
    if "bfloat16" in kernel.source:  # 8-bit mantissas: a step of 1e-2 is below their resolution
        return GradResult("not_checked", ["bfloat16 values: finite differences below bfloat16 precision"]), []
    return None, contract_violations(kernel)


def _backward_disabled(kernel: ast.FunctionDef) -> bool:
    """Whether the kernel is declared `@wp.kernel(enable_backward=False)`."""
    return any(
        k.arg == "enable_backward" and isinstance(k.value, ast.Constant) and k.value.value is False
        for d in kernel.decorator_list
        if isinstance(d, ast.Call)
        for k in d.keywords
    )


def judged(
    ad: float, fds: list[float], scales: list[float], precision: str, reasons: list[str]
) -> GradResult:
    """The result for measured numbers: `judge`'s, or, outside the contract (`reasons`), its status kept
    as `measured` only."""
    status, reason, closest, tol = judge(ad, fds, scales, precision)
    if reasons:
        return GradResult("outside_contract", reasons, measured=status)
    why = [reason] if reason else []
    return GradResult(status, why, adjoint=ad, finite_difference=closest, tolerance=tol)


def draws(params: Sequence[Param], inputs: Inputs) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The check's random weights on the float outputs and direction on the float inputs."""
    wrt, of = float_arrays(params)
    rng = np.random.default_rng(0)
    weights = {p.name: rng.standard_normal(inputs.values[p.name].shape) for p in of}
    direction = {p.name: rng.standard_normal(inputs.values[p.name].shape) for p in wrt}
    return weights, direction


def steps(params: Sequence[Param]) -> list[float]:
    """The finite-difference steps for `params`' precision."""
    return [STEP[gradient_precision(*float_arrays(params))] * s for s in STEPS]


def gradient_precision(wrt: Sequence[Param], of: Sequence[Param]) -> str:
    """The float type whose step and tolerance apply: float32 when any float32 array takes part."""
    return "float32" if any(p.numpy_dtype == np.float32 for p in (*wrt, *of)) else "float64"


def judge(ad: float, fds: list[float], scales: list[float], precision: str) -> tuple[str, str, float, float]:
    """(status, reason, the finite difference closest to the adjoint, the tolerance) for adjoint `ad`
    and the finite differences `fds` at the STEPS (`scales`: the sum|w * out| of each).

    Standalone (numpy and this module's constants only): findings' reproducers carry its source.
    """
    tol = tolerance([ad, *fds], scales, precision)
    closest = min(fds, key=lambda fd: abs(ad - fd))
    if ad == 0 and all(fd == 0 for fd in fds):
        return "trivial", "adjoint and finite differences all zero: no derivative compared", closest, tol
    if not all(np.isfinite([ad, *fds, tol])):
        return "inconclusive", "non-finite values", closest, tol
    if abs(ad - closest) <= tol:
        return "passed", "", closest, tol
    if max(fds) - min(fds) > tol:
        return "inconclusive", "finite differences unstable (kink or jump)", closest, tol
    return "mismatch", "", closest, tol


#: A float64 twin's disagreement with its finite differences that shrank by this factor from the float32
#: one is rounding too (float64 rounds 2^29 times finer) ...
PRECISION_GAIN = 1e-6
#: ... and a float32 disagreement within this many spreads of the adjoint's own noise is rounding.
NOISE_SPREADS = 4.0


def float32_rounding(grad32: GradResult, noise: float, grad64: GradResult) -> bool:
    """Whether a float32 mismatch is rounding: the kernel's float64 twin agrees with its finite differences
    (or its disagreement shrank with the precision: a residue such as the adjoint of a quantity that is
    exactly zero), and the float32 disagreement lies within the float32 adjoint's rounding noise (a bug
    only float32 code has does not).  `noise`: `check.runner.adjoint_noise`."""
    d32 = abs(grad32.adjoint - grad32.finite_difference)  # type: ignore[operator]
    if grad64.adjoint is None or grad64.finite_difference is None:
        return False
    d64 = abs(grad64.adjoint - grad64.finite_difference)
    twin = grad64.status in ("passed", "trivial") or d64 <= PRECISION_GAIN * d32
    return twin and d32 <= grad32.tolerance + NOISE_SPREADS * noise  # type: ignore[operator]


#: Without a float64 twin, a disagreement is a finding only beyond the tolerance plus this many spreads
#: of the adjoint's own noise (far above it: a numerically unstable kernel's adjoint moves by more than
#: its disagreement when its inputs move by a few ULP).
FAR_ABOVE_NOISE = 64.0


def confirmed(grad: GradResult, noise: float, grad64: GradResult | None) -> GradResult:
    """The verdict on a `mismatch`, given the adjoint's `noise` and the float64 twin's check (`grad64`).

    With a twin: `float32_rounding` (`float32_rounding`); `inconclusive` when the twin agrees with its
    finite differences and its derivative matches the float32 adjoint (the float32 differences are
    what is off: a kink within their step, seen in the 1.10.0 run of issue 20 under both 1.10 and
    1.19); a `mismatch` (a finding) when the twin has one too, or when the twin agrees with its finite
    differences and the float32 disagreement is far above the noise (FAR_ABOVE_NOISE: the twin
    confirms the derivative the float32 adjoint misses, a bug only float32 code has); else
    `inconclusive`, saying why.  Without one: a `mismatch` only far above the
    noise, else `inconclusive`.
    """
    told = replace(grad, adjoint_noise=noise, float64=grad64.as_dict() if grad64 else None)
    disagreement = abs(grad.adjoint - grad.finite_difference)  # type: ignore[operator]
    far = disagreement > grad.tolerance + FAR_ABOVE_NOISE * noise  # type: ignore[operator]
    if grad64 is None:
        if far:
            return told
        why = f"no float64 twin, and the disagreement {disagreement:.3g} is not far above the adjoint's "
        return replace(told, status="inconclusive", reasons=[why + f"noise {noise:.3g}"])
    if float32_rounding(grad, noise, grad64):
        return replace(told, status="float32_rounding")
    agrees = grad64.status in ("passed", "trivial")
    if agrees and grad64.adjoint is not None and abs(grad.adjoint - grad64.adjoint) <= grad.tolerance:  # type: ignore[operator]
        said = f"the float64 twin's derivative {grad64.adjoint:.6g} matches the adjoint {grad.adjoint:.6g}"
        why = f"{said}: the float32 finite differences are off (a kink or rounding within their step)"
        return replace(told, status="inconclusive", reasons=[why])
    if grad64.status == "mismatch" or (agrees and far):
        return told
    said = f"{grad64.status}{f' ({grad64.reasons[0]})' if grad64.reasons else ''}"
    if agrees:
        said += f", and the disagreement {disagreement:.3g} is not far above the adjoint's noise {noise:.3g}"
    return replace(told, status="inconclusive", reasons=[f"the float64 twin does not confirm it: {said}"])


def tolerance(values: Sequence[float], scales: Sequence[float], precision: str) -> float:
    """How far apart derivative estimates `values` may be: relative to the largest, plus the rounding of
    the differenced losses (`scales`: their sum|w * out|) at the smallest step.  Standalone, as `judge`."""
    rounding = ROUNDING_ULPS * float(np.finfo(precision).eps) * max(scales) / (STEP[precision] * min(STEPS))
    return GRADIENT_RTOL[precision] * max(map(abs, values)) + rounding
