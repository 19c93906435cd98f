"""Identifiers: the pools generated names are drawn from, and a per-module allocator.

Names read like real kernels (`integrate_particles`, `vel`, `acc`) so the
dataset does not teach a model that variables are called `v17`.  Every name
is unique within its module: nothing is ever shadowed.
"""

from __future__ import annotations

import builtins

from grammar.choices import Choices, choice

KERNEL_VERBS = (
    "compute", "update", "integrate", "accumulate", "scale", "apply", "blend", "transform",
    "advect", "relax", "solve", "filter", "reduce", "project", "smooth", "evaluate",
)  # fmt: skip
KERNEL_NOUNS = (
    "values", "field", "state", "forces", "weights", "grid", "particles", "samples",
    "density", "energy", "velocity", "signal", "buffer", "points", "mass", "pressure",
)  # fmt: skip
HELPER_NAMES = (
    "mix", "falloff", "weight", "shade", "kernel_fn", "blend_val", "response", "damp",
    "activate", "remap", "penalty", "combine", "warp_fn", "soft", "score", "lift",
)  # fmt: skip
#: Variable names by the kind of value they hold.
VAR_NAMES: dict[str, tuple[str, ...]] = {
    "float": ("acc", "s", "t", "val", "x", "y", "w", "h", "r", "tmp", "total", "alpha", "beta", "e", "d"),
    "int": ("n", "idx", "cnt", "m", "c", "bits", "off", "code", "b"),
    "vector": ("v", "p", "axis", "vel", "loc", "u", "nrm", "g"),
    "matrix": ("M", "R", "A", "rot", "basis", "H"),
}
ARRAY_NAMES = ("a", "b", "x", "y", "data", "src", "vals", "pts", "field", "weights", "inp", "coef")
OUTPUT_NAMES = ("out", "result", "dst", "res", "y_out", "target")
ACC_NAMES = ("accum", "hist", "total", "counts", "sums")
LOOP_NAMES = ("k", "j", "q", "it", "stage", "l")
TID_NAMES = (("i",), ("tid",), ("i", "j"), ("x", "y"), ("i", "j", "k"), ("x", "y", "z"), ("i", "j", "k", "l"))
CONSTANT_NAMES = ("SCALE", "EPS", "GAIN", "STEPS", "OFFSET", "LIMIT", "RATE", "BIAS")
STRUCT_NAMES = ("Body", "Particle", "Cell", "Params", "State", "Material")
FIELD_NAMES = ("mass", "center", "vel", "k", "inner", "data", "coef", "flag", "radius", "weights", "n")
STRUCT_PARAM_NAMES = ("params", "body", "cfg", "prm")
STRUCT_LOCAL_NAMES = ("st", "rec", "item", "cell")
RNG_NAMES = ("rng", "state", "seed_state")
COUNTER_NAMES = ("w", "iters", "tries", "count")
TILE_NAMES = ("t", "tl", "blk", "tt")
TILE_SIZE_NAMES = ("TILE", "TILE_SIZE", "BLOCK")
#: Pools hold no name of a Warp builtin either (but `tid`, which holds `wp.tid()`, an int): Warp 1.19
#: resolves `pos.p` to its builtin `pos` when typing a generic function's argument
#: (docs/warp_findings/attribute_of_builtin_named_variable.py); `tests/test_breadth.py` checks.
#: Never generated: `wp`, and Python's builtins (Warp resolves a name it cannot type as a global).
RESERVED = frozenset({"wp", *dir(builtins)})


class Names:
    """Allocates identifiers, unique within one module (no shadowing anywhere)."""

    def __init__(self, ch: Choices):
        self._ch = ch
        self._used: set[str] = set(RESERVED)

    def fresh(self, pool: tuple[str, ...]) -> str:
        base = choice(self._ch, pool)
        name, n = base, 0
        while name in self._used:
            n += 1
            name = f"{base}{n}"
        self._used.add(name)
        return name
