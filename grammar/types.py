"""The type universe of generated kernels: one table, read by every production.

A `WType` names a Warp value type the way generated source spells it
(`annotation`), the way Warp's registry spells it (`warp_name`), and what the
productions need to know about it (kind, scalar dtype, shape).  Arrays are
separate (`ArrayType`): they only appear as kernel parameters and are indexed,
never computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["bool", "int", "float", "vector", "matrix"]


@dataclass(frozen=True)
class WType:
    """A Warp value type as seen by the grammar."""

    warp_name: str  # the registry's name: float32, vec3f, mat33f ...
    annotation: str  # how source spells it in a signature: float, wp.vec3 ...
    kind: Kind
    scalar: str  # warp_name of the element type (itself for scalars)
    shape: tuple[int, ...] = ()

    @property
    def is_scalar(self) -> bool:
        return not self.shape

    @property
    def is_float_based(self) -> bool:
        return self.scalar in FLOAT_SCALARS

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


FLOAT_SCALARS = ("float32", "float64")

BOOL = WType("bool", "wp.bool", "bool", "bool")
FLOAT32 = WType("float32", "float", "float", "float32")
FLOAT64 = WType("float64", "wp.float64", "float", "float64")
INT32 = WType("int32", "int", "int", "int32")
VEC3 = WType("vec3f", "wp.vec3", "vector", "float32", (3,))
MAT33 = WType("mat33f", "wp.mat33", "matrix", "float32", (3, 3))

#: Every value type the grammar may produce, in order of simplicity (shrinking
#: moves towards the front of this tuple).
VALUE_TYPES: tuple[WType, ...] = (FLOAT32, INT32, FLOAT64, VEC3, MAT33, BOOL)

#: Types a variable, parameter or helper argument may have (bool is only a condition).
STORABLE_TYPES: tuple[WType, ...] = tuple(t for t in VALUE_TYPES if t is not BOOL)

BY_WARP_NAME: dict[str, WType] = {t.warp_name: t for t in VALUE_TYPES}

#: Array element types, and the dimensionalities generated.
ARRAY_DTYPES: tuple[WType, ...] = (FLOAT32, INT32, FLOAT64, VEC3, MAT33)
ARRAY_NDIMS: tuple[int, ...] = (1, 2)
