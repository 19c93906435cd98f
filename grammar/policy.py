"""Generation policies: diversity as explicit, swappable knobs (YARPGen, swarm testing).

Each kernel first draws a `Policy`: which language features are switched on,
which types exist, and how big it is.  Switching features off per kernel
(swarm testing) gives focused kernels as well as mixed ones, and lets a run
aim at a `kernel_type`: the `FOCUS` table says which switches a type needs
and which it may add without turning into another type (see
`grammar.labels`).  Sizes come from the `SIZES` table, a mix from small to
large shaped after Warp's own kernels.  A *differentiable* policy keeps data
flow in floats through differentiable operations, inside Warp's autodiff
contract, so the fuzzer's gradient check compares real derivatives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from grammar.choices import Choices, choice
from grammar.labels import KERNEL_TYPES
from grammar.types import (
    BY_WARP_NAME,
    FLOAT32,
    FLOAT64,
    INT32,
    MATRICES,
    SCALARS,
    SHAPED,
    SUFFIX,
    UINT32,
    VECTORS,
    WType,
)

#: Every feature switch a policy has.
SWITCHES = (
    "loops",  # for over range
    "whiles",  # bounded while
    "break_continue",
    "ifs",
    "elifs",
    "compound",  # and/or/not and chained comparisons
    "nesting",  # control flow inside control flow
    "math",  # scalar math builtins
    "vectors",
    "matrices",
    "atomics",
    "scalar_params",
    "helpers",  # @wp.func helpers
    "dtypes",  # scalar dtypes beyond float32 and int32 (float16/64, int8..uint64)
    "random",  # rand_init state and random-number builtins
    "structs",  # @wp.struct types: a kernel parameter and locals
    "tiles",  # a tile kernel (tile_load, tile operations, tile_store) instead of a thread kernel
    "options",  # @wp.kernel(...) with kernel or module options (grammar/options.py)
    "custom_grads",  # a @wp.func with a @wp.func_grad adjoint (and @wp.func_replay), grammar/gradients.py
    "geometry",  # mesh, BVH, hash-grid, volume and texture handle parameters and their queries
)

#: Chance that a switch a focus may add is on (swarm testing); the default for others is 0.4.
#: Families that change a kernel's whole form are rarer, so most kernels stay plain.
SWITCH_ODDS: dict[str, float] = {"options": 0.15, "custom_grads": 0.1, "geometry": 0.2, "tiles": 0.5}
#: The same, for one focus: vector tile kernels (complex FFTs) are a small part of vector kernels.
FOCUS_ODDS: dict[tuple[str, str], float] = {("vector", "tiles"): 0.1}

#: Per kernel type: (switches it requires, switches it may add).
FOCUS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "arithmetic": (frozenset(), frozenset({"helpers", "dtypes"})),
    "scalar_param": (frozenset({"scalar_params"}), frozenset({"helpers", "dtypes", "structs"})),
    "math": (
        frozenset({"math"}),
        frozenset({"helpers", "scalar_params", "structs", "dtypes", "random", "tiles"}),
    ),
    "conditional": (
        frozenset({"ifs"}),
        frozenset({"math", "scalar_params", "structs", "helpers", "dtypes", "random"}),
    ),
    "loop": (
        frozenset({"loops"}),
        frozenset({"math", "scalar_params", "structs", "helpers", "dtypes", "random"}),
    ),
    "control_flow": (
        frozenset({"whiles"}),
        frozenset({"break_continue", "math", "scalar_params", "structs", "dtypes"}),
    ),
    "multi_cond": (
        frozenset({"ifs", "elifs", "compound"}),
        frozenset({"math", "scalar_params", "structs", "helpers", "dtypes"}),
    ),
    "vector": (
        frozenset({"vectors"}),
        frozenset({"math", "scalar_params", "structs", "helpers", "dtypes", "random", "geometry", "tiles"}),
    ),
    "matrix": (
        frozenset({"matrices"}),
        frozenset({"vectors", "math", "scalar_params", "structs", "helpers", "dtypes", "random", "geometry"}),
    ),
    "atomic": (
        frozenset({"atomics"}),
        frozenset({"scalar_params", "structs", "helpers", "vectors", "dtypes", "geometry"}),
    ),
    "nested": (
        frozenset({"nesting", "loops", "ifs"}),
        frozenset(
            {
                "scalar_params",
                "structs",
                "helpers",
                "whiles",
                "elifs",
                "compound",
                "break_continue",
                "dtypes",
                "geometry",
            }
        ),
    ),
    "combined": (
        frozenset({"loops", "ifs", "math"}),
        frozenset(SWITCHES) - {"tiles"},  # a tile kernel has no loops or ifs
    ),
}
assert set(FOCUS) == set(KERNEL_TYPES)
#: Switches any focus may add: they change no label (a custom gradient's function is a helper,
#: its body calls math builtins only where the math switch is on).
ANY_FOCUS = frozenset({"options", "custom_grads"})

#: Switches a differentiable policy never turns on: dynamic loops reassigning a variable and
#: random numbers are outside Warp's autodiff contract; narrow dtypes are integers or float16.
NOT_DIFFERENTIABLE = frozenset({"whiles", "break_continue", "random", "dtypes"})
#: Kernel types a differentiable policy can aim at (the others require a switch above).
DIFFERENTIABLE_FOCUS = tuple(k for k in KERNEL_TYPES if not FOCUS[k][0] & NOT_DIFFERENTIABLE)


@dataclass(frozen=True)
class Size:
    """A size class: statements in the kernel body and depth of expressions."""

    name: str
    weight: float
    statements: tuple[int, int]
    expr_depth: tuple[int, int]
    helpers: tuple[int, int]  # with the helpers switch on


#: Kernel sizes, weighted after Warp's own 2,709 kernels (`benchmarks/dataflow.py`: kernel
#: source median 220 bytes, p90 644, p99 2,098): mostly a few statements, a tail of larger ones.
SIZES: tuple[Size, ...] = (
    Size("small", 0.75, (0, 1), (1, 1), (1, 1)),
    Size("medium", 0.2, (1, 3), (1, 2), (1, 1)),
    Size("large", 0.05, (3, 6), (2, 3), (1, 2)),
)


@dataclass(frozen=True)
class Policy:
    """The knobs one kernel is generated under."""

    focus: str
    switches: frozenset[str]
    size: str = "medium"
    statements: int = 4  # statements in the kernel body (before the final stores)
    max_expr_depth: int = 2
    max_block_depth: int = 2  # nesting of compound statements
    launch_ndim: int = 1
    n_inputs: int = 2  # read-only arrays
    n_outputs: int = 1  # arrays each thread writes once, at its own index
    n_helpers: int = 0
    n_constants: int = 0  # module-level wp.constant values
    guard_launch: bool = True  # `if i >= out.shape[0]: return` prologue
    differentiable: bool = False  # float data flow through differentiable operations only
    types: tuple[WType, ...] = (FLOAT32, INT32)  # the value types this kernel may use (swarm)

    def on(self, switch: str) -> bool:
        return switch in self.switches


def _sample(ch: Choices, pool: tuple[WType, ...], lo: int, hi: int, by_size: bool = False) -> list[WType]:
    """Between lo and hi distinct members of `pool`, in pool order (deterministic); `by_size`:
    small types likelier (a spatial matrix's code is ten times a 2-vector's)."""
    k = min(len(pool), ch.integer(lo, hi))
    weights = [1 / t.length if by_size else 1.0 for t in pool]
    picked: list[WType] = []
    while len(picked) < k:
        t = ch.weighted(pool, weights)
        if t not in picked:
            picked.append(t)
    return [t for t in pool if t in picked]


def draw_types(ch: Choices, switches: frozenset[str], differentiable: bool) -> tuple[WType, ...]:
    """The kernel's type universe: float32 and int32, plus dtypes, vectors, matrices its switches allow.

    A differentiable kernel computes in float32 or float64 (its ints are indices and loop counters).
    """
    if differentiable:
        scalars = [FLOAT32] if ch.boolean(0.75) else [FLOAT32, FLOAT64]
    else:
        scalars = [FLOAT32, INT32] + ([UINT32] if "random" in switches else [])
    if "dtypes" in switches:
        scalars += _sample(ch, tuple(t for t in SCALARS if t not in scalars), 1, 3)
    names = {t.warp_name for t in scalars}
    shaped: list[WType] = []
    if "vectors" in switches or "matrices" in switches:
        vectors = tuple(t for t in (*VECTORS, *SHAPED) if t.kind == "vector" and t.scalar in names)
        shaped += _sample(ch, vectors, 1, 3, by_size=True)
    if "matrices" in switches:
        matrices = tuple(t for t in (*MATRICES, *SHAPED) if t.kind == "matrix" and t.scalar in names)
        shaped += _sample(ch, matrices, 1, 2, by_size=True)
    if "geometry" in switches and BY_WARP_NAME["vec3f"] not in shaped:  # points of queries
        shaped.append(BY_WARP_NAME["vec3f"])
    if "random" in switches and shaped:  # what sample_unit_disk, sample_unit_sphere ... return
        shaped += [t for t in (BY_WARP_NAME["vec2f"], BY_WARP_NAME["vec3f"]) if t not in shaped]
    for t in list(shaped):  # companions, so the family's builtins (mat * vec, quat_rotate ...) apply
        shaped += [c for c in companions(t) if c not in shaped]
    return (*scalars, *shaped)


def companions(t: WType) -> tuple[WType, ...]:
    """Types the builtins of `t`'s family combine it with: a matrix's row vector, a quaternion's
    or transform's 3-vector (and a transform's quaternion), a spatial matrix's spatial vector."""
    suffix = SUFFIX[t.scalar]
    names = {
        "mat": (f"vec{t.shape[0]}{suffix}",),
        "quat": (f"vec3{suffix}",),
        "transform": (f"vec3{suffix}", f"quat{suffix}"),
        "spatial_vector": (f"vec3{suffix}",),
        "spatial_matrix": (f"spatial_vector{suffix}",),
    }.get(t.family, ())
    return tuple(BY_WARP_NAME[n] for n in names)


def draw_switches(ch: Choices, focus: str, differentiable: bool) -> frozenset[str]:
    """The focus's required switches plus a random subset of the allowed ones."""
    required, allowed = FOCUS[focus]
    allowed = allowed | ANY_FOCUS
    if differentiable:
        allowed = allowed - NOT_DIFFERENTIABLE
    switches = set(required)
    for s in sorted(allowed - required):
        if ch.boolean(FOCUS_ODDS.get((focus, s), SWITCH_ODDS.get(s, 0.4))):
            switches.add(s)
    if "scalar_params" not in switches:
        switches.discard("structs")  # a struct parameter is a scalar (non-array) parameter
    if "tiles" in switches:  # a tile kernel uses none of them (its helpers map one tile each)
        switches -= {"structs", "random", "scalar_params", "custom_grads", "geometry"}
    return frozenset(switches)


def draw_policy(ch: Choices, focus: str, differentiable: bool = False) -> Policy:
    """A random policy aimed at `focus`."""
    switches = draw_switches(ch, focus, differentiable)
    size = ch.weighted(SIZES, [s.weight for s in SIZES])
    policy = Policy(
        focus=focus,
        switches=switches,
        size=size.name,
        statements=ch.integer(*size.statements),
        max_expr_depth=ch.integer(*size.expr_depth),
        max_block_depth=3 if "nesting" in switches else 1,
        launch_ndim=choice(ch, (1, 1, 1, 1, 2, 2, 3, 4)),
        n_inputs=ch.weighted((1, 2, 3), (0.75, 0.2, 0.05)),
        n_outputs=ch.weighted((1, 2), (0.9, 0.1)),
        n_helpers=ch.integer(*size.helpers) if "helpers" in switches else 0,
        n_constants=choice(ch, (0, 0, 0, 0, 0, 1, 2)),
        guard_launch=ch.boolean(0.1),  # real kernels seldom guard: their launch is the arrays' size
        differentiable=differentiable,
    )
    return replace(policy, types=draw_types(ch, switches, differentiable))
