"""Warp's backward against finite differences; the autodiff contract; the tolerance policy."""

import numpy as np
import pytest

from check import execute, tolerance
from check.gradcheck import contract_violations
from check.harness import Report
from check.judge import TargetCheck, gradient_check, installation
from emit.lower import Kernel

SQUARE = """import warp as wp

@wp.func
def square(x: float) -> float:
    return x * x

GRAD

@wp.kernel
def apply_square(a: wp.array(dtype=float), b: wp.array(dtype=wp.float64), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.sin(square(a[i])) + float(b[i]) * a[i]
"""

WRONG_GRAD = """@wp.func_grad(square)
def adj_square(x: float, adj_ret: float):
    wp.adjoint[x] += 3.0 * x * adj_ret
"""

# `best` reassigned inside a loop: Warp 1.19 differentiates it correctly when the
# loop is unrolled (constant range) but not when it is dynamic (`range(n)`).
ARGMAX = """import warp as wp

@wp.kernel
def pick(a: wp.array(dtype=float), out: wp.array(dtype=float), n: int):
    i = wp.tid()
    best = float(-100.0)
    for p in range(RANGE):
        v = a[i] * wp.cos(float(p))
        if v > best:
            best = v
    out[i] = best
"""


def _load(source, name):
    """The kernel's (source, name) and its parameters, read off its definition."""
    return (source, name), execute.describe(source, name, 0)[0]


def _inputs(params, **scalars):
    values = {p.name: np.linspace(-0.9, 0.8, 6).astype(p.numpy_dtype) for p in params if p.is_array}
    return execute.Inputs((6,), values | scalars)


def test_differentiable_kernel_passes():
    source = SQUARE.replace("GRAD", "")
    _, params = _load(source, "apply_square")
    result = gradient_check(source, "apply_square", params, _inputs(params))
    assert result.status == "passed", result
    assert result.as_dict()["tolerance"] > 0


def test_wrong_custom_gradient_is_caught():
    source = SQUARE.replace("GRAD", WRONG_GRAD)
    _, params = _load(source, "apply_square")
    assert contract_violations(Kernel(source, "apply_square")) == []
    assert gradient_check(source, "apply_square", params, _inputs(params)).status == "mismatch"


def test_dynamic_loop_reassignment_is_outside_the_contract():
    dynamic, unrolled = ARGMAX.replace("RANGE", "n"), ARGMAX.replace("RANGE", "3")
    assert contract_violations(Kernel(dynamic, "pick")) == ["dynamic_loop_reassigns_carried_variable"]
    assert contract_violations(Kernel(unrolled, "pick")) == []
    _, params = _load(dynamic, "pick")
    inputs = _inputs(params, n=3)
    assert gradient_check(dynamic, "pick", params, inputs).status == "outside_contract"
    assert gradient_check(dynamic, "pick", params, inputs, contract=False).status == "mismatch"  # why
    _, params = _load(unrolled, "pick")
    assert gradient_check(unrolled, "pick", params, inputs).status == "passed"


LABELS = """import warp as wp

@wp.kernel
def labels(
    a: wp.array(dtype=float), n: wp.array(dtype=int), out: wp.array(dtype=float), hist: wp.array(dtype=int)
):
    i = wp.tid()
    k = wp.step(n[i]) + n[i] % 7
    out[i] = BODY
    wp.atomic_max(hist, 0, k)
"""


@pytest.mark.parametrize(
    ("body", "reasons"),
    [
        ("a[i] * float(k)", []),  # step, % and atomic_max on ints carry no gradient
        ("wp.floor(a[i])", ["non_differentiable_builtin:floor"]),
        ("a[i] % (wp.abs(a[i]) + 1.0)", ["non_differentiable_builtin:mod"]),
    ],
)
def test_contract_labels_follow_warps_types(body, reasons):
    assert contract_violations(Kernel(LABELS.replace("BODY", body), "labels")) == reasons


@pytest.mark.parametrize(
    ("cpu", "gpu", "contributors", "same"),
    [
        (np.array([1, 2], np.int32), np.array([1, 3], np.int32), 1, False),  # ints: exact
        (np.array([1.0, 2.0], np.float32), np.array([1.0, 2.0005], np.float32), 1, True),  # ~1000 ULP
        (np.array([1.0, 2.0], np.float32), np.array([1.0, 2.01], np.float32), 1, False),
        (np.array([1e-9, 0.0], np.float32), np.array([-1e-9, 1e-6], np.float32), 1, True),  # near 0
        (np.array([np.nan, np.inf], np.float32), np.array([np.nan, np.inf], np.float32), 1, True),
        (np.array([np.inf], np.float32), np.array([-np.inf], np.float32), 1, False),
        (np.array([1.0], np.float64), np.array([1.0 + 1e-8], np.float64), 1, False),
        (np.array([100.0], np.float32), np.array([100.2], np.float32), 1, False),
        (np.array([100.0], np.float32), np.array([100.2], np.float32), 256, True),  # atomics reorder
    ],
)
def test_tolerance_policy(cpu, gpu, contributors, same):
    assert tolerance.close(cpu, gpu, contributors) is same


def test_run_to_run_policy():
    a = {"out": np.array([1.0, 2.0], np.float32), "hist": np.array([100.0], np.float32)}
    one_ulp_more = np.nextafter(np.float32(2.0), np.float32(3.0))
    b = {"out": np.array([1.0, one_ulp_more], np.float32), "hist": np.array([100.001], np.float32)}
    assert tolerance.run_to_run_differences(a, a, {"hist"}, 64) == []
    assert tolerance.run_to_run_differences(a, b, {"hist"}, 64) == ["out"]  # one ULP is a difference


WIDENED = """import warp as wp
TILE = wp.constant(4)

@wp.struct
class Gain:
    scale: float
    offset: wp.array(dtype=float)

@wp.kernel
def tiled(a: wp.array2d(dtype=float), out: wp.array2d(dtype=float), acc: wp.array(dtype=float)):
    i, j = wp.tid()
    t = wp.tile_load(a, shape=(TILE, TILE), offset=(i * TILE, j * TILE))
    wp.tile_store(out, wp.tile_map(wp.sin, t), offset=(i * TILE, j * TILE))
    wp.tile_atomic_add(acc, wp.tile_sum(t))

@wp.kernel
def tile_maxed(a: wp.array2d(dtype=float), out: wp.array2d(dtype=float), acc: wp.array(dtype=float)):
    i, j = wp.tid()
    t = wp.tile_load(a, shape=(TILE, TILE), offset=(i * TILE, j * TILE))
    wp.tile_store(out, wp.tile_map(wp.floor, t), offset=(i * TILE, j * TILE))
    wp.tile_atomic_add(acc, wp.tile_max(t))

@wp.kernel
def gained(a: wp.array(dtype=float), out: wp.array(dtype=float), g: Gain):
    i = wp.tid()
    out[i] = wp.sin(a[i]) * g.scale + g.offset[i]

@wp.kernel
def half(a: wp.array(dtype=wp.float16), out: wp.array(dtype=wp.float16)):
    i = wp.tid()
    out[i] = a[i] * a[i]
"""


@pytest.mark.parametrize(
    ("name", "status"),
    [("tiled", "passed"), ("tile_maxed", "outside_contract"), ("gained", "passed"), ("half", "not_checked")],
)
def test_tile_struct_and_float16_kernels(name, status):
    params, inputs = execute.describe(WIDENED, name, 1)
    assert gradient_check(WIDENED, name, params, inputs).status == status


def test_tile_reductions_and_mapped_functions_follow_warps_registry():
    reasons = ["non_differentiable_builtin:floor", "non_differentiable_builtin:tile_max"]
    assert contract_violations(Kernel(WIDENED, "tile_maxed")) == reasons
    assert contract_violations(Kernel(WIDENED, "tiled")) == []


CONSTANT_OUTPUT = """import warp as wp

@wp.kernel
def constant(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = 1.5 + float(i)
"""


def test_a_check_where_adjoint_and_differences_are_zero_is_trivial_not_passed():
    _, params = _load(CONSTANT_OUTPUT, "constant")
    result = gradient_check(CONSTANT_OUTPUT, "constant", params, _inputs(params))
    assert result.status == "trivial" and result.adjoint == 0.0 and result.finite_difference == 0.0
    assert result.reasons == ["adjoint and finite differences all zero: no derivative compared"]


#: The derivative of `x * 0.0` is 0 (finite differences are exactly 0); a custom adjoint giving a rounding
#: residue (zero in exact arithmetic) is right up to float32 rounding, one giving 0.001 is wrong.
VANISH = """import warp as wp

@wp.func
def vanish(x: float) -> float:
    return x * 0.0

@wp.func_grad(vanish)
def adj_vanish(x: float, adj_ret: float):
    wp.adjoint[x] += adj_ret * GRAD

@wp.kernel
def apply_vanish(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = vanish(a[i])
"""


@pytest.mark.parametrize(
    ("adjoint", "status"), [("((x * 0.3 + x * 0.7) - x) * 1000.0", "float32_rounding"), ("0.001", "mismatch")]
)
def test_float64_twin_and_adjoint_noise_tell_rounding_from_a_wrong_adjoint(adjoint, status):
    source = VANISH.replace("GRAD", adjoint)
    _, params = _load(source, "apply_vanish")
    inputs = execute.draw_inputs(params, 0)
    measured = gradient_check(source, "apply_vanish", params, inputs)
    assert measured.status == "mismatch" and measured.finite_difference == 0.0  # float32 alone cannot tell
    report = Report(0, "apply_vanish", "", source)
    TargetCheck(installation(None, "target")).check([report])  # its inputs: those of seed 0, as above
    told = report.metadata["gradcheck"]
    assert told["status"] == status, told
    assert "float64" in told and "adjoint_noise" in told


def test_every_gradient_status_the_code_gives_is_a_row_of_the_table():
    import ast
    from pathlib import Path

    from check.gradcheck import GRADIENT_STATUSES, GradResult

    given = set()
    for path in Path(__file__).resolve().parents[1].joinpath("check").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "GradResult" and node.args:
                given |= {node.args[0].value} if isinstance(node.args[0], ast.Constant) else set()
            keywords = getattr(node, "keywords", ())
            given |= {
                k.value.value for k in keywords if k.arg == "status" and isinstance(k.value, ast.Constant)
            }
    assert given and given <= set(GRADIENT_STATUSES), given - set(GRADIENT_STATUSES)
    with pytest.raises(ValueError, match="unknown gradient-check status"):
        GradResult("exploded")


#: Fuzz seed 11's gradient "finding" under 1.19, shrunk: `tt` feeds a kinked `tile_map` and is then
#: written in place by `tile_axpy`, so the map's adjoint sees the new values (wrong adjoint); the same
#: update out of place (`tt = tt + tl * d`) has the right one.
IN_PLACE = """import warp as wp
BLOCK = wp.constant(8)

@wp.func
def weight(beta: wp.float64) -> wp.float64:
    return beta if beta > 0.01 else wp.float64(3.662)

@wp.kernel
def apply_samples(data: wp.array2d(dtype=wp.float64), out: wp.array2d(dtype=wp.float64)):
    i, j = wp.tid()
    tt = wp.tile_load(data, shape=(BLOCK, BLOCK), offset=(i, j), storage='register')
    tl = wp.tile_map(weight, tt)
    d = wp.tile_extract(tl, 3, 4)
    UPDATE
    wp.tile_store(out, tt, offset=(i, j))
"""


def test_an_in_place_tile_update_of_a_tile_read_before_is_outside_the_contract():
    in_place = IN_PLACE.replace("UPDATE", "wp.tile_axpy(d, tl, tt)")
    assert contract_violations(Kernel(in_place, "apply_samples")) == ["in_place_tile_destination_read_before"]
    out_of_place = IN_PLACE.replace("UPDATE", "tt = tt + tl * d")
    assert contract_violations(Kernel(out_of_place, "apply_samples")) == []
    fresh = IN_PLACE.replace(
        "UPDATE", "tz = wp.tile_zeros(shape=(BLOCK, BLOCK), dtype=wp.float64)\n    wp.tile_axpy(d, tl, tz)"
    )
    assert contract_violations(Kernel(fresh, "apply_samples")) == []
