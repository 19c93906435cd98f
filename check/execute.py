"""A generated kernel's launch: its parameters and the inputs drawn from a seed, per the launch contract.

The launch contract (`grammar.safety`, README "Launch contract"): every array of
a kernel, array fields of struct parameters included, has the launch shape,
1..MAX_EXTENT elements per dimension; int parameters and int fields of struct
parameters have |n| <= MAX_EXTENT, int array elements |x| <= ARRAY_INT_BOUND.
A tile kernel is launched with `wp.launch_tiled` over a 2-D grid of tiles, with its module's
`block_dim`: its 2-D arrays have shape grid * (rows, cols) of the tiles it loads, its 1-D
accumulator one element.  Inputs here stay well inside the contract (small
extents keep a CPU launch fast; floats in [-2, 2] keep guarded math finite;
ints within the smaller of the draw range and their dtype's range; bools 0/1).

Element types are read off Warp's type objects (`warp_access.value_layout`),
so every scalar, vector, matrix, quaternion, transform and spatial type of
the grammar is handled alike.  A kernel that cannot be launched within the
contract raises `Unsupported` (a labelled status, never a finding).

Nothing here builds or runs a kernel: `describe` reads a kernel's Python
definition (no build), and the one executor (`check.executor`, `check.runner`)
runs it with these inputs.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import itertools
import re
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import warp_access
from check import handles
from check.roles import UnknownRole, array_roles
from grammar import safety

#: Largest extent per launch dimension used for execution (the contract allows MAX_EXTENT) ...
EXEC_EXTENT = 8
#: ... and about the most threads of a launch: 3-D and 4-D launches get smaller extents
#: (4 and 3), so nested loops over array extents stay quick on a CPU.
EXEC_THREADS = 64
#: Largest extent per dimension of a tile kernel's grid (its arrays are grid * TILE).
TILE_GRID = 2
#: Length of a tile kernel's 1-D arrays (its accumulator: `tile_atomic_add` adds at index 0).
TILE_ACC_LENGTH = 1
#: Float inputs are drawn from [-FLOAT_RANGE, FLOAT_RANGE].
FLOAT_RANGE = 2.0
#: Int array elements and int parameters drawn here (inside the contract's bounds and their dtype's).
INT_ARRAY_RANGE = 1000
INT_PARAM_RANGE = 12
assert EXEC_EXTENT <= safety.MAX_EXTENT and INT_ARRAY_RANGE <= safety.ARRAY_INT_BOUND
assert INT_PARAM_RANGE <= safety.MAX_EXTENT

#: Prefix of the Python module names execution loads kernels under (not the records' module name).
EXEC_MODULE = "exec_module"
_LOADS = itertools.count()


def _load_name(source: str) -> str:
    """A module name of its own for each load (see `loaded`)."""
    return f"{EXEC_MODULE}_{next(_LOADS)}_{hashlib.sha1(source.encode()).hexdigest()[:12]}"


class Unsupported(Exception):
    """A kernel the executor cannot launch within the contract (a labelled status, not a finding)."""


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """A kernel parameter: an array (with its role), a scalar or a struct (with its fields).

    A struct's fields are Params named by their dotted path (`prm.inner.vel`).  A struct
    class lives in the module loaded in its process, so a pickled Param keeps its name only.
    `role` is how the kernel uses an array (`check.roles`): input, output or accumulator;
    "scalar" for scalars, "" for structs.
    """

    name: str
    dtype: Any  # the Warp dtype (element type for arrays, the struct class for structs)
    ndim: int  # 0 for scalars and structs
    fields: tuple[Param, ...] = ()
    struct: str = ""  # a struct's declared name (as its own module spells it); "" for others
    role: str = "scalar"

    def __reduce__(self) -> tuple[type, tuple]:
        dtype = None if self.is_struct else self.dtype
        return Param, (self.name, dtype, self.ndim, self.fields, self.struct, self.role)

    @property
    def is_array(self) -> bool:
        return self.ndim > 0

    @property
    def is_struct(self) -> bool:
        return bool(self.struct)

    @property
    def field_name(self) -> str:
        """The name within its struct (the name itself for a kernel parameter)."""
        return self.name.rpartition(".")[2]

    @property
    def numpy_dtype(self) -> np.dtype:
        return _layout(self.dtype)[0]

    @property
    def element_shape(self) -> tuple[int, ...]:
        return _layout(self.dtype)[1]

    @property
    def is_float(self) -> bool:
        return not self.is_struct and self.numpy_dtype.kind == "f"

    @property
    def dtype_name(self) -> str:
        """The name `wp.<name>` of its (element) type, in any Warp release (`float32`, `vec3f` ...)."""
        return _warp_type(self.dtype).__name__


def _warp_type(dtype: Any) -> Any:
    """The Warp type a Python annotation stands for (`float` is `wp.float32` ...)."""
    wp = warp_access.warp()
    return {float: wp.float32, int: wp.int32, bool: wp.bool}.get(dtype, dtype)


def _layout(dtype: Any) -> tuple[np.dtype, tuple[int, ...]]:
    """numpy dtype and per-element shape of a Warp value type (scalar, vector, matrix, quat ...)."""
    dtype = _warp_type(dtype)
    wp = warp_access.warp()
    scalar, shape = warp_access.value_layout(dtype)
    try:
        return np.dtype(wp.dtype_to_numpy(scalar)), shape
    except Exception as e:
        raise Unsupported(f"value type {dtype!r}") from e


def kernel_params(kernel: Any) -> list[Param]:
    """The parameters of a `wp.Kernel`, from its Python function's annotations; arrays get the role
    the kernel's code gives them (raises `Unsupported` if that is unknown)."""
    signature = inspect.signature(kernel.func, eval_str=True)
    unroled = [_param(name, p.annotation) for name, p in signature.parameters.items()]
    arrays = {p.name for p in leaves(unroled) if p.is_array}
    try:
        roles = array_roles(textwrap.dedent(warp_access.kernel_source(kernel)), arrays)
    except UnknownRole as e:
        raise Unsupported(str(e)) from None
    return [_with_roles(p, roles) for p in unroled]


def _param(name: str, annotation: Any) -> Param:
    wp = warp_access.warp()
    if isinstance(annotation, wp.array):
        return Param(name, annotation.dtype, annotation.ndim, role="")
    if warp_access.is_struct(annotation):
        fields = tuple(_param(f"{name}.{f}", t) for f, t in warp_access.struct_fields(annotation).items())
        return Param(name, annotation, 0, fields, source_name(warp_access.struct_name(annotation)), role="")
    return Param(name, annotation, 0)


def _with_roles(p: Param, roles: dict[str, str]) -> Param:
    if p.is_struct:
        return replace(p, fields=tuple(_with_roles(f, roles) for f in p.fields))
    return replace(p, role=roles[p.name]) if p.is_array else p


def leaves(params: Iterable[Param]) -> Iterator[Param]:
    """The arrays and scalars of `params`, struct fields included (recursively)."""
    for p in params:
        yield from leaves(p.fields) if p.is_struct else (p,)


def tile_shape(kernel: Any) -> tuple[int, ...]:
    """The shape of a tile kernel's tiles (the `shape=` of its `wp.tile_load`s); () for other kernels.

    A tile kernel is one calling any `wp.tile_*` (read from the source text Warp built it from).
    """
    tree = ast.parse(textwrap.dedent(warp_access.kernel_source(kernel)))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    if not any(c.func.attr.startswith("tile_") for c in calls):  # type: ignore[union-attr]
        return ()
    for c in calls:
        shape = next((k.value for k in c.keywords if k.arg == "shape"), None)
        if c.func.attr == "tile_load" and isinstance(shape, ast.Tuple):  # type: ignore[union-attr]
            sides = tuple(_constant(kernel, e) for e in shape.elts)
            if len(sides) == 2 and None not in sides:
                return sides  # type: ignore[return-value]
    raise Unsupported("tile kernel without a 2-d wp.tile_load of constant shape")


def _constant(kernel: Any, node: ast.expr) -> int | None:
    """An int literal, or a module-level name bound to an int (`wp.constant(8)` is 8)."""
    if isinstance(node, ast.Constant):
        value = node.value
    elif isinstance(node, ast.Name):
        value = kernel.func.__globals__.get(node.id)
    else:
        return None
    return value if isinstance(value, int) else None


# ----------------------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """One launch's arguments: the launch shape, a value per leaf parameter (numpy or scalar),
    and the tile shape of a tile kernel (() otherwise)."""

    shape: tuple[int, ...]
    values: dict[str, Any]
    tile: tuple[int, ...] = ()

    @property
    def threads(self) -> int:
        """Threads of the launch (a tile kernel: the blocks' tiles' elements), the most that may add
        into one accumulator element."""
        return int(np.prod(self.shape)) * int(np.prod(self.tile))

    def array_shape(self, p: Param) -> tuple[int, ...]:
        """The shape of array `p` for this launch (see the module docstring)."""
        if not self.tile:
            return self.shape
        if p.ndim == 2:
            return tuple(n * t for n, t in zip(self.shape, self.tile, strict=True))
        return (TILE_ACC_LENGTH,) * p.ndim


def prepare(kernel: Any, seed: int) -> tuple[list[Param], Inputs]:
    """A kernel's parameters and the arguments drawn from `seed`; raises `Unsupported`."""
    params = kernel_params(kernel)
    return params, draw_inputs(params, seed, tile_shape(kernel), handles.handle_kinds(kernel))


def describe(source: str, kernel_name: str, seed: int) -> tuple[list[Param], Inputs]:
    """`prepare` for a kernel of module `source` without building it (reading its Python definition
    suffices): for kernels another Warp installation builds and runs."""
    name = _load_name(source)
    with warp_access.WarpModule(name, source) as module:
        return prepare(getattr(module.py_module, kernel_name), seed)


def draw_inputs(
    params: Sequence[Param], seed: int, tile: tuple[int, ...] = (), objects: dict[str, str] | None = None
) -> Inputs:
    """Arguments drawn from `seed`: arrays of the launch (or tile) shape, values inside the contract;
    `objects`: handle parameters by kind, whose objects come from a stream of their own."""
    rng = np.random.default_rng(seed)
    arrays = [p for p in leaves(params) if p.is_array]
    ndim = 2 if tile else max((p.ndim for p in arrays), default=1)
    extent = TILE_GRID if tile else min(EXEC_EXTENT, round(EXEC_THREADS ** (1 / ndim)))
    inputs = Inputs(tuple(int(n) for n in rng.integers(1, extent + 1, size=ndim)), {}, tile)
    for p in leaves(params):
        if p.name not in (objects or {}):
            inputs.values[p.name] = _draw(rng, p, inputs.array_shape(p) if p.is_array else ())
    geometry = np.random.default_rng([seed, 1])  # kernels without objects draw as before
    for name, kind in (objects or {}).items():
        inputs.values[name] = handles.recipe(kind, geometry)
    return inputs


def redraw(params: Sequence[Param], inputs: Inputs, seed: int) -> Inputs:
    """The same launch with every value the kernel only reads (input arrays, scalars, struct fields)
    drawn again from `seed`; outputs, accumulators and objects stay as they were."""
    rng = np.random.default_rng(seed)
    values = dict(inputs.values)
    for p in leaves(params):
        if p.role in ("input", "scalar") and not isinstance(values[p.name], handles.Recipe):
            values[p.name] = _draw(rng, p, inputs.array_shape(p) if p.is_array else ())
    return Inputs(inputs.shape, values, inputs.tile)


def _draw(rng: np.random.Generator, p: Param, shape: tuple[int, ...]) -> Any:
    """A value of `p` (an array of `shape`, or a scalar or vector when `shape` is ())."""
    dtype, size = p.numpy_dtype, shape + p.element_shape
    if dtype.kind == "f":
        value = rng.uniform(-FLOAT_RANGE, FLOAT_RANGE, size=size).astype(dtype)
    elif dtype.kind == "b":
        value = rng.integers(0, 2, size=size).astype(dtype)
    else:
        info, bound = np.iinfo(dtype), INT_ARRAY_RANGE if p.is_array else INT_PARAM_RANGE
        value = rng.integers(max(info.min, -bound), min(info.max, bound) + 1, size=size).astype(dtype)
    return value if size else value.item()


# ----------------------------------------------------------------------------- loading


def source_name(name: str) -> str:
    """A top-level name as its own module spells it (without the suffix `merge_modules` gave it)."""
    return re.sub(r"_k\d+$", "", name)
