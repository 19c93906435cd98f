"""The type universe of generated kernels: one table, read by every production.

A `WType` names a Warp value type the way generated source spells it
(`annotation`), the way Warp's registry spells it (`warp_name`), and what the
productions need to know about it (kind, family, scalar dtype, shape).  Arrays
are separate (`ArrayType`): they only appear as kernel parameters and are
indexed, never computed.

The table is built from a few lists (scalar dtypes, which dtypes each shape
family exists over), so adding a type is adding a name, never a production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["bool", "int", "float", "vector", "matrix"]
#: Shape families: what a type is, beyond its kind (a quaternion is a 4-vector of kind "vector").
Family = Literal["scalar", "vec", "mat", "quat", "transform", "spatial_vector", "spatial_matrix"]


@dataclass(frozen=True, eq=False)
class WType:
    """A Warp value type as seen by the grammar.

    Every type is made once, in the table below, so types compare by identity (fast: the
    grammar compares types in its hottest loops).
    """

    warp_name: str  # the registry's name: float32, vec3f, mat33h, quatd ...
    annotation: str  # how source spells it: float, wp.vec3, wp.vec2ub ...
    kind: Kind
    scalar: str  # warp_name of the element type (itself for scalars)
    shape: tuple[int, ...] = ()
    family: Family = "scalar"

    @property
    def is_scalar(self) -> bool:
        return not self.shape

    @property
    def is_float_based(self) -> bool:
        return self.scalar in FLOAT_SCALARS

    @property
    def is_int_based(self) -> bool:
        return self.scalar in INT_BITS

    @property
    def length(self) -> int:
        """Number of scalar components."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __str__(self) -> str:
        return self.warp_name


@dataclass(frozen=True)
class ArrayType:
    """`wp.array(dtype=..., ndim=...)`: a kernel parameter, indexed by statements."""

    dtype: WType
    ndim: int

    @property
    def annotation(self) -> str:
        ctor = "wp.array" if self.ndim == 1 else f"wp.array{self.ndim}d"
        return f"{ctor}(dtype={self.dtype.annotation})"

    def __str__(self) -> str:
        return f"array{self.ndim}d[{self.dtype}]"


# ----------------------------------------------------------------------------- the table

FLOAT_SCALARS = ("float32", "float64", "float16", "bfloat16")
#: Float dtypes Warp builds vectors, matrices, quaternions ... over (bfloat16 is a scalar only).
SHAPED_FLOATS = ("float32", "float64", "float16")
#: Integer dtypes and their widths; signedness is in the name.
INT_BITS: dict[str, int] = {
    "int32": 32,
    "int8": 8,
    "int16": 16,
    "int64": 64,
    "uint8": 8,
    "uint16": 16,
    "uint32": 32,
    "uint64": 64,
}
#: Warp's suffix for each dtype in vector/matrix names (vec3f, vec2ub, mat33d ...).
SUFFIX = {
    "float32": "f",
    "float64": "d",
    "float16": "h",
    "int32": "i",
    "int8": "b",
    "int16": "s",
    "int64": "l",
    "uint8": "ub",
    "uint16": "us",
    "uint32": "ui",
    "uint64": "ul",
}
#: Source spellings shorter than `wp.<warp_name>` (Warp's float32 aliases).
ALIASES = {
    "float32": "float",
    "int32": "int",
    "vec2f": "wp.vec2",
    "vec3f": "wp.vec3",
    "vec4f": "wp.vec4",
    "mat22f": "wp.mat22",
    "mat33f": "wp.mat33",
    "mat44f": "wp.mat44",
    "quatf": "wp.quat",
    "transformf": "wp.transform",
    "spatial_vectorf": "wp.spatial_vector",
    "spatial_matrixf": "wp.spatial_matrix",
}


def _make(
    warp_name: str, kind: Kind, scalar: str, shape: tuple[int, ...] = (), family: Family = "scalar"
) -> WType:
    return WType(warp_name, ALIASES.get(warp_name, f"wp.{warp_name}"), kind, scalar, shape, family)


def _scalar(name: str) -> WType:
    return _make(name, "float" if name in FLOAT_SCALARS else "int", name)


SCALARS: tuple[WType, ...] = tuple(_scalar(n) for n in (*SHAPED_FLOATS, *INT_BITS, "bfloat16"))
FLOAT32, FLOAT64, INT32 = SCALARS[0], SCALARS[1], SCALARS[3]
BOOL = WType("bool", "wp.bool", "bool", "bool")

#: Vectors exist over every scalar dtype; the other families over float dtypes only (as in Warp).
VECTORS = tuple(
    _make(f"vec{n}{SUFFIX[s]}", "vector", s, (n,), "vec")
    for s in (*SHAPED_FLOATS, *INT_BITS)
    for n in (2, 3, 4)
)
MATRICES = tuple(
    _make(f"mat{n}{n}{SUFFIX[s]}", "matrix", s, (n, n), "mat") for s in SHAPED_FLOATS for n in (2, 3, 4)
)
SHAPED = tuple(
    _make(f"{family}{SUFFIX[s]}", kind, s, shape, family)
    for s in SHAPED_FLOATS
    for family, kind, shape in (
        ("quat", "vector", (4,)),
        ("transform", "vector", (7,)),
        ("spatial_vector", "vector", (6,)),
        ("spatial_matrix", "matrix", (6, 6)),
    )
)

#: Every value type the grammar may produce, simplest first (shrinking moves towards the front).
VALUE_TYPES: tuple[WType, ...] = (*SCALARS, *VECTORS, *MATRICES, *SHAPED, BOOL)
BY_WARP_NAME: dict[str, WType] = {t.warp_name: t for t in VALUE_TYPES}

#: Every way source names a type (`vec3f`, `vec3` in `wp.vec3`, `float`), to its warp name.
SPELLINGS: dict[str, str] = {t.warp_name: t.warp_name for t in VALUE_TYPES} | {
    t.annotation.removeprefix("wp."): t.warp_name for t in VALUE_TYPES
}

UINT32 = BY_WARP_NAME["uint32"]
UINT64 = BY_WARP_NAME["uint64"]
#: bfloat16 values are locals only (`wp.bfloat16(x)`, math on them): never a parameter, array element,
#: struct field or constant (numpy has no bfloat16 for the fuzzer's inputs).
BFLOAT16 = BY_WARP_NAME["bfloat16"]
VEC3 = BY_WARP_NAME["vec3f"]


def int_bits(ty: WType) -> int:
    return INT_BITS[ty.scalar]


def is_unsigned(ty: WType) -> bool:
    return ty.scalar.startswith("uint")
