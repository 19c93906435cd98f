"""Array roles come from how a kernel uses each array, whatever the arrays are called."""

import pytest

from check import execute
from check.roles import UnknownRole, array_roles

KERNEL = """@wp.kernel
def k(out: wp.array(dtype=float), a: wp.array(dtype=float), hist: wp.array(dtype=float), s: State):
    i = wp.tid()
    BODY
"""


@pytest.mark.parametrize(
    ("body", "roles"),
    [
        # names that the grammar's pools would have called output and accumulator, used otherwise
        ("a[i] = out[i] + hist[i]", {"out": "input", "a": "output", "hist": "input"}),
        ("wp.atomic_add(out, 0, a[i])", {"out": "accumulator", "a": "input", "hist": "input"}),
        ("out[i] += a[i]", {"out": "accumulator"}),
        ("out[i] -= a[i]", {"out": "accumulator"}),
        ("out[i] *= a[i]", {"out": "output"}),  # not an atomic: a read-modify-write at the thread's index
        ("out[i][0] = a[i]", {"out": "output"}),
        ("out[i], a[i] = wp.vec2(1.0, 2.0)", {"out": "output", "a": "output"}),
        ("s.vel[i] = a[i]", {"s.vel": "output", "a": "input"}),
        ("wp.atomic_max(s.vel, i, a[i])", {"s.vel": "accumulator"}),
        ("out[i] = 1.0\n    wp.atomic_add(out, 0, 1.0)", {"out": "accumulator"}),  # the stronger role
        ("t = wp.tile_load(a, shape=(4,))\n    wp.tile_store(out, t)", {"a": "input", "out": "output"}),
        ("wp.tile_atomic_add(hist, wp.tile_sum(wp.tile_load(a, shape=(4,))))", {"hist": "accumulator"}),
        ("out[i] = float(len(a))", {"a": "input", "out": "output"}),
    ],
)
def test_roles_follow_the_code(body, roles):
    found = array_roles(KERNEL.replace("BODY", body), {"out", "a", "hist", "s.vel"})
    assert {name: found[name] for name in roles} == roles


def test_an_array_handed_to_anything_else_has_no_role_to_guess():
    with pytest.raises(UnknownRole, match="array a passed whole to helper"):
        array_roles(KERNEL.replace("BODY", "out[i] = helper(a, i)"), {"out", "a", "hist"})


LOADED = """import warp as wp

@wp.struct
class State:
    vel: wp.array(dtype=float)

@wp.func
def helper(x: wp.array(dtype=float), i: int) -> float:
    return x[i]

@wp.kernel
def k(result: wp.array(dtype=float), total: wp.array(dtype=float), data: wp.array(dtype=float), s: State):
    i = wp.tid()
    BODY
"""


def test_loaded_kernels_get_their_roles_and_unknown_ones_are_unsupported():
    source = LOADED.replace("BODY", "data[i] = result[i]\n    wp.atomic_add(s.vel, 0, total[i])")
    params, _ = execute.describe(source, "k", 0)
    roles = {p.name: p.role for p in execute.leaves(params)}
    assert roles == {"result": "input", "total": "input", "data": "output", "s.vel": "accumulator"}
    with pytest.raises(execute.Unsupported, match="passed whole to helper"):
        execute.describe(LOADED.replace("BODY", "result[i] = helper(data, i)"), "k", 0)
