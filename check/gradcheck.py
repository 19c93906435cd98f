"""Warp's backward pass (`wp.Tape`) against central finite differences.

The check is one directional derivative per kernel: with random weights `w` on
the float outputs (output and accumulator arrays) and a random direction `d` on
the float input arrays, the loss is `L(x) = sum(w * out(x))`; the adjoint gives
`g . d`, finite differences give `(L(x + h d) - L(x - h d)) / 2h`.

Tolerance (README, "Verification"): they agree when
`|ad - fd| <= RTOL * max(|ad|, |fd|) + rounding`, where `rounding` bounds the
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
from check.execute import Inputs, Param, launch_kernel, warp_arguments
from emit.lower import lower
from grammar.astnodes import wp_name
from grammar.builtins import nondifferentiable_on_floats

#: Relative tolerance per float type involved (float32 when any float32 array takes part).
RTOL = {"float32": 2e-2, "float64": 1e-6}
#: Finite-difference step per float type.
STEP = {"float32": 1e-2, "float64": 1e-6}
#: Fractions of the step at which finite differences are taken.
STEPS = (1.0, 0.5, 0.25)
#: Units of machine epsilon allowed per output element in each differenced loss.
ROUNDING_ULPS = 8.0


@dataclass
class GradResult:
    """The outcome of one gradient check (goes into a kernel's metadata)."""

    status: str  # passed, trivial, mismatch, inconclusive, outside_contract, not_differentiable, not_checked
    reasons: list[str] = field(default_factory=list)
    measured: str | None = None  # outside the contract: what the check would have said (information)
    adjoint: float | None = None
    finite_difference: float | None = None
    tolerance: float | None = None

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


def contract_violations(source: str, kernel_name: str) -> list[str]:
    """Why the module's kernel is outside Warp's autodiff contract (empty: inside)."""
    tree = ast.parse(source)
    reasons: set[str] = set()
    for func in (s for s in tree.body if isinstance(s, ast.FunctionDef)):
        for loop in ast.walk(func):
            dynamic = isinstance(loop, ast.For | ast.While) and _is_dynamic(loop)
            if dynamic and _assigned(loop) & _defined_before(func, loop):
                reasons.add("dynamic_loop_reassigns_carried_variable")
    kernel = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == kernel_name)
    reasons |= _tile_violations(kernel)
    code = lower(source, kernel_name, "cpu")
    for name in float_nondifferentiable_calls(code.helpers + code.forward):
        reasons.add("atomic_min_max" if name.startswith("atomic_") else f"non_differentiable_builtin:{name}")
    return sorted(reasons)


#: Tile constructors of constants (`wp.tile_zeros(shape, dtype)`): Warp marks them not differentiable,
#: but they take nothing to differentiate.
TILE_CONSTANTS = frozenset({"tile_zeros", "tile_ones", "tile_arange"})


def _tile_violations(kernel: ast.FunctionDef) -> set[str]:
    """Non-differentiable tile builtins, and non-differentiable functions given to `wp.tile_map`."""
    tile_builtins = warp_access.nondifferentiable_builtins("Tile Primitives") - TILE_CONSTANTS
    names = nondifferentiable_on_floats() | tile_builtins
    found = set()
    for node in ast.walk(kernel):
        name = wp_name(node.func) if isinstance(node, ast.Call) else None
        if name and name.startswith("tile_"):
            mapped = [wp_name(node.args[0])] if name == "tile_map" and node.args else []  # type: ignore[attr-defined]
            found |= {f"non_differentiable_builtin:{n}" for n in (name, *mapped) if n in names}
    return found


# ----------------------------------------------------------------------------- the check


def float_arrays(params: Sequence[Param]) -> tuple[list[Param], list[Param]]:
    """Float arrays differentiated with respect to (inputs), and of (outputs, accumulators)."""
    wrt = [p for p in params if p.role == "input" and p.is_float]
    of = [p for p in params if p.role in ("output", "accumulator") and p.is_float]
    return wrt, of


def check_gradient(
    kernel: Any, params: Sequence[Param], inputs: Inputs, source: str, kernel_name: str
) -> GradResult:
    """Check `kernel` (`kernel_name` in `source`) on CPU at `inputs`; contract violations first."""
    wrt, of = float_arrays(params)
    if not wrt or not of:
        return GradResult("not_differentiable", ["no float input or output array"])
    if kernel.options.get("enable_backward") is False:  # @wp.kernel(enable_backward=False): no adjoint
        return GradResult("not_differentiable", ["enable_backward=False"])
    if any(p.numpy_dtype == np.float16 for p in (*wrt, *of)):
        return GradResult("not_checked", ["float16 arrays: finite differences below half precision"])
    if "bfloat16" in source:  # 8-bit mantissas: a step of 1e-2 is below their resolution
        return GradResult("not_checked", ["bfloat16 values: finite differences below bfloat16 precision"])
    reasons = contract_violations(source, kernel_name)
    if reasons:
        measured = measure_gradient(kernel, params, inputs).status
        return GradResult("outside_contract", reasons, measured=measured)
    return measure_gradient(kernel, params, inputs)


def measure_gradient(kernel: Any, params: Sequence[Param], inputs: Inputs) -> GradResult:
    """Adjoint against finite differences, whatever the contract says (see `check_gradient`)."""
    wrt, of = float_arrays(params)
    precision = gradient_precision(wrt, of)
    rng = np.random.default_rng(0)
    weights = {p.name: rng.standard_normal(inputs.values[p.name].shape) for p in of}
    direction = {p.name: rng.standard_normal(inputs.values[p.name].shape) for p in wrt}
    ad = _adjoint(kernel, params, inputs, weights, direction)
    differences = [
        _finite_difference(kernel, params, inputs, weights, direction, STEP[precision] * s) for s in STEPS
    ]
    fds, scales = [fd for fd, _ in differences], [scale for _, scale in differences]
    status, reason, closest, tol = judge(ad, fds, scales, precision)
    reasons = [reason] if reason else []
    return GradResult(status, reasons, adjoint=ad, finite_difference=closest, tolerance=tol)


def gradient_precision(wrt: Sequence[Param], of: Sequence[Param]) -> str:
    """The float type whose step and tolerance apply: float32 when any float32 array takes part."""
    return "float32" if any(p.numpy_dtype == np.float32 for p in (*wrt, *of)) else "float64"


def judge(ad: float, fds: list[float], scales: list[float], precision: str) -> tuple[str, str, float, float]:
    """(status, reason, the finite difference closest to the adjoint, the tolerance) for adjoint `ad`
    and the finite differences `fds` at the STEPS (`scales`: the sum|w * out| of each).

    Standalone (numpy and this module's constants only): findings' reproducers carry its source.
    """
    steps = [STEP[precision] * s for s in STEPS]
    rounding = ROUNDING_ULPS * float(np.finfo(precision).eps) * max(scales) / min(steps)
    tol = RTOL[precision] * max(abs(ad), *map(abs, fds)) + rounding
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


def _loss(params: Sequence[Param], args: list, weights: dict[str, np.ndarray]) -> tuple[float, float]:
    """sum(w * out) in float64, and sum|w * out| (the scale of its rounding error)."""
    total = scale = 0.0
    for p, a in zip(params, args, strict=True):
        if p.name in weights:
            terms = weights[p.name] * a.numpy().astype(np.float64)
            total += float(terms.sum())
            scale += float(np.abs(terms).sum())
    return total, scale


def _launch(kernel: Any, params: Sequence[Param], inputs: Inputs, requires_grad: bool = False) -> list:
    args = warp_arguments(params, inputs, "cpu", requires_grad=requires_grad)
    launch_kernel(kernel, args, inputs, "cpu")
    return args


def _adjoint(kernel: Any, params: Sequence[Param], inputs: Inputs, weights: dict, direction: dict) -> float:
    import warp as wp

    tape = wp.Tape()
    with tape:
        args = _launch(kernel, params, inputs, requires_grad=True)
    by_name = dict(zip((p.name for p in params), args, strict=True))
    seeds = {by_name[n]: wp.array(w, dtype=by_name[n].dtype, device="cpu") for n, w in weights.items()}
    tape.backward(grads=seeds)
    return float(sum((by_name[n].grad.numpy().astype(np.float64) * d).sum() for n, d in direction.items()))


def _finite_difference(
    kernel: Any, params: Sequence[Param], inputs: Inputs, weights: dict, direction: dict, h: float
) -> tuple[float, float]:
    """Central difference of the loss along `direction`, and the larger loss scale."""
    losses = []
    for sign in (1.0, -1.0):
        moved = dict(inputs.values)
        for name, d in direction.items():
            x = inputs.values[name]
            moved[name] = (x.astype(np.float64) + sign * h * d).astype(x.dtype)
        losses.append(_loss(params, _launch(kernel, params, replace(inputs, values=moved)), weights))
    (up, s_up), (down, s_down) = losses
    return (up - down) / (2 * h), max(s_up, s_down)
