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
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import warp_access
from grammar import spans
from grammar.choices import Choices
from grammar.types import BY_WARP_NAME, INT_BITS, SCALARS, VALUE_TYPES, WType

#: Registry names never generated, and why.  Everything else whose types fit is.
EXCLUDED: dict[str, str] = {
    "print": "I/O side effect: output is not part of the kernel's result",
    "printf": "I/O side effect: output is not part of the kernel's result",
    "expect_eq": "test assertion, prints on failure",
    "expect_neq": "test assertion, prints on failure",
    "expect_near": "test assertion, prints on failure",
    "assign": "internal codegen helper for component stores",
    "bool": "conditions are built from comparisons",
    "select": "removed in Warp 1.19 (raises at codegen); where() covers it",
    "copy": "internal: identity copy, emitted by codegen",
    "randi": "randi(state) is any int32 (no bound); randi(state, lo, hi) divides by hi - lo",
    "bit_count": "population count: returns int32 of an unbounded argument width; not modelled",
    "erfcinv": "domain (0, 2) with poles at the ends; erfinv covers the family",
    "erfinv": "poles at +-1 make gradients and cross-device comparison meaningless",
    "intersect_tri_tri": "geometry predicate with many degenerate cases; not a kernel-language feature",
    "closest_point_edge_edge": "geometry query with degenerate parallel-edge cases",
    "nonzero": "identical to step's negation; kept out to keep labels readable",
    "load": "internal: loads through a pointer",
    "transform_set_rotation": "in-place update returning nothing; attribute stores (t.q = ...) cover it",
    "transform_set_translation": "in-place update returning nothing; attribute stores (t.p = ...) cover it",
    "reversed": "range reversal: loops count up by construction (bounded trip counts)",
    **dict.fromkeys(
        [
            "dense_chol",
            "dense_chol_batched",
            "dense_gemm",
            "dense_gemm_batched",
            "dense_solve",
            "dense_solve_batched",
            "dense_subs",
        ],
        "deprecated dense linear algebra on flat arrays (tiles replace it)",
    ),
    **dict.fromkeys(
        [
            "add_inplace",
            "sub_inplace",
            "assign_copy",
            "assign_inplace",
            "bit_and_inplace",
            "bit_or_inplace",
            "bit_xor_inplace",
            "transform_add_inplace",
            "transform_sub_inplace",
            "extract",
            "index",
            "indexref",
            "address",
            "array_store",
            "store",
            "iter_next",
            "len",
            "tuple",
            "cast",
            "view",
        ],
        "internal: codegen emits it for subscripts, component stores, loops and tuples",
    ),
    **dict.fromkeys(
        ["array", "zeros", "slice", "breakpoint"],
        "array construction from pointers, local arrays, slicing or debugging: outside the data model",
    ),
    **dict.fromkeys(
        [
            "vector",
            "matrix",
            "quaternion",
            "transformation",
            "spatial_vector",
            "quat_identity",
            "transform_identity",
            "matrix_from_cols",
            "matrix_from_rows",
        ],
        "constructor taking a dtype keyword or varargs: literals use the type's own constructor",
    ),
    **dict.fromkeys(
        [
            "inverse_approx",
            "div_approx",
            "spatial_adjoint",
            "transform_compose",
            "transform_decompose",
            "transform_from_matrix",
            "transform_to_matrix",
            "transform_set_rotation_copy",
            "transform_set_translation_copy",
            "smooth_normalize",
        ],
        "registered only generically (no concrete overload, result type not resolvable from Any)",
    ),
    **dict.fromkeys(("lower_bound", "sample_cdf"), "takes a sorted array or CDF as argument: not modelled"),
    **dict.fromkeys(
        ["volume_store", "volume_store_f", "volume_store_v", "volume_store_i"],
        "writes a voxel other threads may read: a data race (outputs are arrays at the thread's index)",
    ),
    **dict.fromkeys(
        ["volume_lookup_index", "volume_sample_index", "volume_sample_grad_index"],
        "needs an index volume (NanoVDB onindex grid) and its voxel data array",
    ),
    **dict.fromkeys(
        ["mesh_get_group_root", "bvh_get_group_root"],
        "needs an object built with groups (the fuzzer's objects have none)",
    ),
    "mesh_get": "returns the mesh's arrays: indexing them needs its sizes, which no kernel parameter states",
    "mesh_get_bvh": "a BVH of a mesh: BVHs come as parameters of their own",
    **dict.fromkeys(
        (
            *("bvh_query_aabb_tiled", "bvh_query_ray_tiled", "bvh_query_next_tiled"),
            *("mesh_query_aabb_tiled", "mesh_query_aabb_next_tiled"),
        ),
        "deprecated in Warp 1.18 (tile_bvh_query_*, tile_mesh_query_* replace them)",
    ),
    **dict.fromkeys(
        (
            *("tile_bvh_query_aabb", "tile_bvh_query_ray", "tile_bvh_query_next"),
            *("tile_mesh_query_aabb", "tile_mesh_query_aabb_next", "tile_query_valid"),
        ),
        "tiled geometry query: tile kernels take no handle parameters",
    ),
    "tile_empty": "uninitialised storage: reading it before every element is assigned is undefined",
    **dict.fromkeys(
        ["tile_randf", "tile_randi"], "random tiles: the scalar random builtins cover the family"
    ),
    "tile_squeeze": "removes unit dimensions: no generated tile has one (reshape covers shape changes)",
    **dict.fromkeys(
        ["tile_store_indexed", "tile_atomic_add_indexed", "tile_slice_indexed"],
        "indexed store, atomic or slice: the store writes the block's own tile (tile_load_indexed reads)",
    ),
    **dict.fromkeys(
        ["tile_bit_and_inplace", "tile_bit_or_inplace", "tile_bit_xor_inplace"],
        "bitwise update of an integer tile: the grammar's tiles hold floats",
    ),
}

#: Tile primitives the tile-kernel productions emit (`grammar/tiles.py`, `grammar/tile_ops.py`; they
#: count as "math" for labels).  `tile_add_inplace`/`tile_sub_inplace` are what `t[r, c] += x` lowers to.
TILE_BUILTINS = (
    *("tile_load", "tile_store", "tile_map", "tile_transpose", "tile_atomic_add", "tile_astype"),
    *("tile_sum", "tile_max", "tile_min", "tile_reduce", "tile_dot", "tile_argmax", "tile_argmin"),
    *("tile_extract", "tile_view", "tile_reshape", "tile_broadcast", "tile_assign", "tile_load_indexed"),
    *(
        "tile_zeros",
        "tile_ones",
        "tile_full",
        "tile_arange",
        "tile_axpy",
        "tile_add_inplace",
        "tile_sub_inplace",
    ),
    *("tile_matmul", "tile_diag_add", "tile_cholesky", "tile_cholesky_inplace", "tile_cholesky_solve"),
    *("tile_cholesky_solve_inplace", "tile_lower_solve", "tile_lower_solve_inplace", "tile_upper_solve"),
    *("tile_upper_solve_inplace", "tile_fft", "tile_ifft", "tile_sort"),
    *("tile_scan_inclusive", "tile_scan_exclusive", "tile_scan_max_inclusive", "tile_scan_min_inclusive"),
    *("tile", "untile", "tile_from_thread", "tile_scatter_add", "tile_scatter_masked", "block_dim"),
    *("tile_stack", "tile_stack_push", "tile_stack_count", "tile_stack_pop", "tile_stack_clear"),
)

#: Geometry builtins the geometry productions emit (`grammar/geometry.py`), on handle parameters.
GEOMETRY_BUILTINS = (
    *("mesh_query_point", "mesh_query_point_no_sign", "mesh_query_point_sign_normal"),
    *("mesh_query_point_sign_winding_number", "mesh_query_point_sign_parity"),
    *("mesh_query_furthest_point_no_sign", "mesh_eval_position", "mesh_eval_velocity"),
    *("mesh_query_ray", "mesh_query_ray_anyhit", "mesh_query_ray_count_intersections"),
    *("mesh_eval_face_normal", "mesh_get_index", "mesh_get_point", "mesh_get_velocity"),
    *("mesh_query_aabb", "mesh_query_aabb_next", "mesh_query_sphere", "mesh_query_next"),
    *("bvh_query_aabb", "bvh_query_ray", "bvh_query_sphere", "bvh_query_capsule", "bvh_query_next"),
    *("hash_grid_query", "hash_grid_query_next", "hash_grid_point_id"),
    *("volume_sample", "volume_sample_f", "volume_sample_v", "volume_sample_i", "volume_sample_grad"),
    *("volume_sample_grad_f", "volume_lookup", "volume_lookup_f", "volume_lookup_v", "volume_lookup_i"),
    *("volume_world_to_index", "volume_index_to_world", "volume_world_to_index_dir"),
    *("volume_index_to_world_dir", "volume_voxel_count", "texture_sample"),
)

#: Every atomic builtin, generated by the atomic statement (integers support them all).
ATOMICS = (
    "atomic_add",
    "atomic_sub",
    "atomic_min",
    "atomic_max",
    "atomic_and",
    "atomic_or",
    "atomic_xor",
    "atomic_exch",
    "atomic_cas",
)

#: Registry names emitted by productions rather than from the table.
PRODUCTIONS: dict[str, str] = {
    **dict.fromkeys(TILE_BUILTINS, "tile kernels"),
    **dict.fromkeys(GEOMETRY_BUILTINS, "geometry queries on handle parameters"),
    "tid": "kernel prologue",
    "range": "for loops",
    "static": "wp.static loop bounds",
    "identity": "matrix literals",
    **dict.fromkeys(ATOMICS, "atomic statements"),
}

#: Registry groups whose builtins only productions emit (geometry on handles, tile operations): the
#: table never draws them; those no production emits are reported with their reason in `EXCLUDED`.
EXCLUDED_GROUPS: dict[str, str] = {
    "Geometry": "a geometry builtin no production emits",
    "Volumes": "a volume builtin no production emits",
    "Textures": "a texture builtin no production emits",
    "Tile Primitives": "a tile primitive no production emits",
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
    "lshift": ast.LShift,
}
UNARY_OPERATORS: dict[str, type[ast.unaryop]] = {
    "neg": ast.USub,
    "pos": ast.UAdd,
    "invert": ast.Invert,
    "unot": ast.Not,
}

#: Conversions, spelled as calls of the target type's constructor (float to int is never generated:
#: an out-of-range value is undefined behaviour).
CONVERSIONS: dict[str, str] = {"float": "float", "int": "int"} | {
    t.warp_name: f"wp.{t.warp_name}" for t in SCALARS
}


@dataclass(frozen=True)
class Builtin:
    """One concrete, generatable overload of a Warp builtin."""

    name: str  # registry name
    family: str  # registry group, e.g. "Scalar Math"
    params: tuple[WType, ...]
    results: tuple[WType, ...]  # several for builtins returning a tuple (svd3, eig3 ...)
    differentiable: bool

    @property
    def returns(self) -> WType:
        return self.results[0]

    @property
    def spelling(self) -> str:
        """How generated source calls it: an operator symbol or a `wp.` function."""
        if self.name in BINARY_OPERATORS or self.name in UNARY_OPERATORS:
            return self.name
        return CONVERSIONS.get(self.name, f"wp.{self.name}")


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
    "lshift": (None, "shift"),
    "poisson": (None, "small"),
    "curlnoise": (None, None, "count"),  # octaves: the noise loops that many times
    "pnoise": (None, None, "period", "period", "period", "period"),  # x % period inside the noise
}


@dataclass(frozen=True)
class NarrowArguments:
    """Literal values for some argument positions, drawn together: a joint constraint."""

    positions: tuple[int, ...]
    draw: Callable[[Choices], tuple[int, ...]]  # one value per position


def _distinct_axes(ch: Choices) -> tuple[int, ...]:
    """Three distinct axes of {0, 1, 2} (an Euler angle convention)."""
    axes = [0, 1, 2]
    return tuple(axes.pop(ch.integer(0, len(axes) - 1)) for _ in range(3))


#: Per-builtin argument strategies for constraints no single guard expresses (the
#: `NARROW_ARGUMENTS` of hypothesmith).  A new family with such a constraint is one row.
ARGUMENTS: dict[str, NarrowArguments] = {
    "quat_from_euler": NarrowArguments((1, 2, 3), _distinct_axes),
    "quat_to_euler": NarrowArguments((1, 2, 3), _distinct_axes),
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
    "min": lambda *a: max(a),
    "max": lambda *a: max(a),
    "clamp": lambda x, lo, hi: max(lo, hi),
    "mod": lambda a, b: b,
    "floordiv": lambda a, b: a,
    "div": lambda a, b: a,
    "rshift": lambda a, b: a,
    "lshift": lambda a, b: 2**64,  # wraps: generated for uint32/uint64 only
    "invert": lambda a: a + 1,
    "dot": lambda a, b: 4 * a * b,
    "cw_mul": lambda a, b: a * b,
    "length_sq": lambda a: 4 * a * a,
    "argmin": lambda a: 4,
    "argmax": lambda a: 4,
    "rand_init": lambda *a: 2**32,
    "randu": lambda *a: 2**32,
    "poisson": lambda *a: 2**32,
    "where": lambda c, a, b: max(a, b),
    # two's-complement bit ops stay within the next power of two
    "bit_and": lambda a, b: _pow2_above(max(a, b)),
    "bit_or": lambda a, b: _pow2_above(max(a, b)),
    "bit_xor": lambda a, b: _pow2_above(max(a, b)),
}


for _name in (*INT_BITS, "int"):  # int-to-int conversions keep the value, then `settle` truncates
    INT_RANGE[_name] = lambda a: a


#: The span of a result from the spans of its arguments (`grammar.spans`), per builtin: analytic,
#: on the domain its guards leave (`SAFETY`); builtins not listed give an unknown span.  Vector
#: spans hold every component.
VALUE_RANGE: dict[str, spans.SpanRule] = {
    "add": spans.ADD,
    "sub": spans.SUB,
    "mul": spans.MUL,
    "cw_mul": spans.MUL,
    "div": spans.DIV,
    "cw_div": spans.DIV,
    "mod": spans.MOD,
    "neg": spans.NEG,
    "pos": lambda a: a,
    "abs": spans.ABS,
    "min": spans.MIN,
    "max": spans.MAX,
    "clamp": spans.CLAMP,
    "where": lambda c, a, b: spans.hull(a, b),
    "sign": spans.SIGN,
    "step": spans.STEP,
    "nonzero": spans.bounded(0.0, 1.0),
    "sin": spans.bounded(-1.0, 1.0),
    "cos": spans.bounded(-1.0, 1.0),
    "tanh": spans.increasing(math.tanh),
    "atan": spans.increasing(math.atan),
    "asin": spans.increasing(math.asin),
    "acos": spans.decreasing(math.acos),
    "sinh": spans.increasing(math.sinh),
    "exp": spans.increasing(math.exp),
    "exp2": spans.increasing(lambda x: 2.0**x),
    "sqrt": spans.increasing(math.sqrt),
    "cbrt": spans.increasing(lambda x: math.copysign(abs(x) ** (1 / 3), x)),
    "log": spans.increasing(math.log),
    "log2": spans.increasing(math.log2),
    "log10": spans.increasing(math.log10),
    "erf": spans.increasing(math.erf),
    "erfc": spans.decreasing(math.erfc),
    "floor": spans.increasing(math.floor),
    "ceil": spans.increasing(math.ceil),
    "trunc": spans.TRUNCATE,
    "round": spans.increasing(round),
    "rint": spans.increasing(round),
    "frac": spans.bounded(-1.0, 1.0),
    "degrees": spans.increasing(math.degrees),
    "radians": spans.increasing(math.radians),
    "dot": spans.MUL,
    "outer": spans.MUL,
    "cross": spans.CROSS,
    "pow": spans.POW,
    "smoothstep": spans.bounded(0.0, 1.0),
    "length_sq": lambda a: None if a is None else spans.square(a),
    "randf": lambda *s: (0.0, 1.0) if len(s) == 1 else spans.hull(*s[1:]),
    "randn": spans.bounded(-4.0, 4.0),
    "float": lambda a: a,
    "int": spans.TRUNCATE,
}
for _name in CONVERSIONS:  # conversions keep the value (`spans.within` drops what does not fit)
    VALUE_RANGE.setdefault(_name, spans.TRUNCATE if _name in INT_BITS else (lambda a: a))
#: Builtins whose result sums its rule's span over the first argument's components (`dot(a, b)`).
SUMMED = frozenset({"dot", "length_sq"})


def _pow2_above(n: int) -> int:
    return 1 << n.bit_length()


def _float32_vector_first(b: Builtin) -> bool:
    return b.params[0].family == "vec" and b.params[0].scalar == "float32"


def _one_parameter(b: Builtin) -> bool:
    return len(b.params) == 1


def _bool_first(b: Builtin) -> bool:
    """`wp.where(x > c, a, b)`, `not (x > c)`; not `wp.where(n, a, b)`, `not n`: a drawn int is all
    but never zero."""
    return b.params[0].kind == "bool"


def _wrapping_operands(b: Builtin) -> bool:
    """uint32/uint64 only: a left shift of a signed or promoted (narrow) value can overflow."""
    return b.params[0].scalar in ("uint32", "uint64")


#: Builtins only some of whose overloads are generated: Warp declares the norms over `Any`
#: but defines them (in Python) for float32 vectors; `randu(state, lo, hi)` divides by hi - lo;
#: `<<` is defined behaviour only on unsigned operands C++ does not promote; `where` and `not`
#: decide by a test, not by the truth of a value.
INSTANCES: dict[str, Callable[[Builtin], bool]] = {
    "where": _bool_first,
    "unot": _bool_first,
    "norm_l1": _float32_vector_first,
    "norm_l2": _float32_vector_first,
    "norm_huber": _float32_vector_first,
    "norm_pseudo_huber": _float32_vector_first,
    "randu": _one_parameter,
    "lshift": _wrapping_operands,
}


def _generatable(b: Builtin) -> bool:
    """Type-level rules: no float-to-int conversion, integer results only with a range rule."""
    if b.name in INSTANCES and not INSTANCES[b.name](b):
        return False
    if b.name in CONVERSIONS and b.returns.is_int_based and b.params[0].kind == "float":
        return False  # float to int: undefined behaviour out of range (bool to int is fine)
    if b.name in ("float16", "bfloat16") and b.params[0].kind == "bool":
        return False  # its adjoint does not compile (docs/warp_findings/bool_to_half.py)
    return len(b.results) > 1 or not b.returns.is_int_based or b.name in INT_RANGE


@cache
def all_builtins() -> tuple[Builtin, ...]:
    """Every registry overload over the type universe, in registry order (multi-result ones too)."""
    table = []
    candidates = tuple(t.warp_name for t in VALUE_TYPES)
    for o in warp_access.builtin_overloads(candidates):
        if o.name in EXCLUDED or o.group in EXCLUDED_GROUPS:
            continue
        params = tuple(BY_WARP_NAME.get(t) for _, t in o.params)
        results = tuple(BY_WARP_NAME.get(t) for t in o.results)
        if None in results or None in params or not params:
            continue
        b = Builtin(o.name, o.group, params, results, o.differentiable)  # type: ignore[arg-type]
        if _generatable(b):
            table.append(b)
    return tuple(table)


@cache
def builtin_table() -> tuple[Builtin, ...]:
    """Every generatable single-result overload, in registry order."""
    return tuple(b for b in all_builtins() if len(b.results) == 1)


@cache
def multi_result_builtins() -> tuple[Builtin, ...]:
    """Overloads returning a tuple, used by tuple-unpacking statements (`U, s, V = wp.svd3(A)`)."""
    return tuple(b for b in all_builtins() if len(b.results) > 1)


@cache
def builtins_returning(name: str) -> tuple[Builtin, ...]:
    """Overloads whose return type's warp name is `name`."""
    return tuple(b for b in builtin_table() if b.returns.warp_name == name)


@cache
def nondifferentiable_on_floats() -> frozenset[str]:
    """Builtins (operators included: `mod`, `floordiv`) with a float overload Warp does not
    differentiate, and the float atomics outside the autodiff contract (`atomic_min`/`max`)."""
    floats = (b for b in builtin_table() if any(t.is_float_based for t in b.params))
    names = {b.name for b in floats if not b.differentiable}
    return frozenset(names) | {"atomic_min", "atomic_max"}


def exclusion_report() -> dict[str, str]:
    """Every registry builtin the grammar never emits, with the reason."""
    generated = {b.name for b in all_builtins()} | set(PRODUCTIONS)
    groups = warp_access.builtin_groups()
    report = {}
    for name in warp_access.builtin_names():
        if name in generated:
            continue
        reason = EXCLUDED.get(name) or EXCLUDED_GROUPS.get(groups[name])
        report[name] = reason or "no overload whose parameter and result types are all in the type universe"
    return report


#: Builtins that guards, index clamps and selections use on their own; they do not make a kernel "math".
BASIC_BUILTINS = frozenset(
    {"min", "max", "clamp", "abs", "sign", "step", "where", "float32", "float64", "int32"}
)

#: Registry groups whose functions count as "math" for labels and policies.
MATH_GROUPS = ("Scalar Math", "Utility", "Random")


@cache
def math_builtin_names() -> frozenset[str]:
    """Generatable builtins that make a kernel "math" (not guards, casts or operators)."""
    return frozenset(
        b.name
        for b in builtin_table()
        if b.family in MATH_GROUPS and b.name not in BASIC_BUILTINS and b.name not in CONVERSIONS
    ) | frozenset(TILE_BUILTINS)


if __name__ == "__main__":  # python -m grammar.builtins: the exclusion report, as a Markdown table
    warp_access.init_warp()
    rows = sorted(exclusion_report().items(), key=lambda kv: (kv[1], kv[0]))
    generated = {b.name for b in all_builtins()} | set(PRODUCTIONS)
    print(f"{len(generated)} registry builtins generated; {len(rows)} not:\n")
    print("| builtin | reason |\n| --- | --- |")
    for name, reason in rows:
        print(f"| `{name}` | {reason} |")
