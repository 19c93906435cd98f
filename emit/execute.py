"""Run generated kernels on a device with inputs drawn from a seed, per the launch contract.

The launch contract (`grammar.safety`): every array of a kernel has the launch
shape, 1..MAX_EXTENT elements per dimension; int parameters have |n| <=
MAX_EXTENT and int array elements |x| <= ARRAY_INT_BOUND.  Inputs here stay well
inside it (small extents keep a CPU launch fast; floats in [-2, 2] keep guarded
math finite).

Loading a module costs a Warp compile (seconds), so `load_kernels` merges many
generated modules into one Python module (top-level names get a suffix) and
compiles them together; a merged module that fails to build is split and
retried, so one bad kernel costs only its own group.  Kernels are found and
launched through public Warp (`wp.Kernel`, `wp.launch`, `wp.array`); only the
loading from source text goes through `emit.warp_private.WarpModule`.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from emit import warp_private
from grammar import productions, safety

#: Largest extent per launch dimension used for execution (the contract allows MAX_EXTENT).
EXEC_EXTENT = 8
#: Float inputs are drawn from [-FLOAT_RANGE, FLOAT_RANGE].
FLOAT_RANGE = 2.0
#: Int array elements and int parameters drawn here (inside the contract's bounds).
INT_ARRAY_RANGE = 1000
INT_PARAM_RANGE = 12
assert EXEC_EXTENT <= safety.MAX_EXTENT and INT_ARRAY_RANGE <= safety.ARRAY_INT_BOUND
assert INT_PARAM_RANGE <= safety.MAX_EXTENT

#: Prefix of the Python module names execution loads kernels under (not the records' module name).
EXEC_MODULE = "exec_module"
_LOADS = itertools.count()


def _wp():
    import warp

    return warp


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """A kernel parameter: an array (with its role) or a scalar."""

    name: str
    dtype: Any  # the Warp dtype (element type for arrays)
    ndim: int  # 0 for scalars

    @property
    def is_array(self) -> bool:
        return self.ndim > 0

    @property
    def role(self) -> str:
        """input, output or accumulator (by the grammar's name pools); scalar for scalars."""
        if not self.is_array:
            return "scalar"
        base = self.name.rstrip("0123456789")
        if base in productions.OUTPUT_NAMES:
            return "output"
        if base in productions.ACC_NAMES:
            return "accumulator"
        return "input"

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(_layout(self.dtype)[0])

    @property
    def element_shape(self) -> tuple[int, ...]:
        return _layout(self.dtype)[1]

    @property
    def is_float(self) -> bool:
        return self.numpy_dtype.kind == "f"


def _layout(dtype: Any) -> tuple[type, tuple[int, ...]]:
    """numpy scalar type and per-element shape of a Warp value type of the grammar."""
    wp = _wp()
    table = {
        wp.float32: (np.float32, ()),
        wp.float64: (np.float64, ()),
        wp.int32: (np.int32, ()),
        wp.vec3f: (np.float32, (3,)),
        wp.mat33f: (np.float32, (3, 3)),
    }
    return table[{float: wp.float32, int: wp.int32}.get(dtype, dtype)]


def kernel_params(kernel: Any) -> list[Param]:
    """The parameters of a `wp.Kernel`, from its Python function's annotations."""
    wp = _wp()
    params = []
    for name, p in inspect.signature(kernel.func, eval_str=True).parameters.items():
        ann = p.annotation
        if isinstance(ann, wp.array):
            params.append(Param(name, ann.dtype, ann.ndim))
        else:
            params.append(Param(name, ann, 0))
    return params


# ----------------------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """One launch's arguments: the launch shape and a value per parameter (numpy or scalar)."""

    shape: tuple[int, ...]
    values: dict[str, Any]


def draw_inputs(params: Sequence[Param], seed: int) -> Inputs:
    """Arguments drawn from `seed`: all arrays of the launch shape, values inside the contract."""
    rng = np.random.default_rng(seed)
    ndim = max((p.ndim for p in params if p.is_array), default=1)
    shape = tuple(int(n) for n in rng.integers(1, EXEC_EXTENT + 1, size=ndim))
    values: dict[str, Any] = {}
    for p in params:
        values[p.name] = _draw(rng, p, shape)
    return Inputs(shape, values)


def _draw(rng: np.random.Generator, p: Param, shape: tuple[int, ...]) -> Any:
    if not p.is_array:
        if p.is_float:
            value = rng.uniform(-FLOAT_RANGE, FLOAT_RANGE, size=p.element_shape).astype(p.numpy_dtype)
            return value if p.element_shape else float(value)
        return int(rng.integers(-INT_PARAM_RANGE, INT_PARAM_RANGE + 1))
    full = shape + p.element_shape
    if p.is_float:
        return rng.uniform(-FLOAT_RANGE, FLOAT_RANGE, size=full).astype(p.numpy_dtype)
    return rng.integers(-INT_ARRAY_RANGE, INT_ARRAY_RANGE + 1, size=full).astype(p.numpy_dtype)


def warp_arguments(params: Sequence[Param], inputs: Inputs, device: str, requires_grad: bool = False) -> list:
    """Fresh Warp arrays (and scalars) for one launch; float arrays track gradients if asked."""
    wp = _wp()
    args = []
    for p in params:
        value = inputs.values[p.name]
        if p.is_array:
            grad = requires_grad and p.is_float
            args.append(wp.array(value, dtype=p.dtype, device=device, requires_grad=grad))
        elif p.element_shape:
            args.append(p.dtype(*np.asarray(value).flatten().tolist()))
        else:
            args.append(value)
    return args


def launch(
    kernel: Any, params: Sequence[Param], inputs: Inputs, device: str = "cpu"
) -> dict[str, np.ndarray]:
    """Launch once on fresh copies of `inputs`; every array's contents afterwards, by name."""
    wp = _wp()
    args = warp_arguments(params, inputs, device)
    wp.launch(kernel, dim=inputs.shape, inputs=args, device=device)
    wp.synchronize_device(device)
    return {p.name: a.numpy() for p, a in zip(params, args, strict=True) if p.is_array}


def same_bytes(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Bit-identical results (NaNs included)."""
    return a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)


def deterministic(kernel: Any, params: Sequence[Param], inputs: Inputs, device: str = "cpu") -> bool:
    """Two launches with identical inputs give identical bytes.

    On CPU Warp runs threads serially, so even float atomics must agree; on a
    GPU float atomics may legitimately reorder (compare with a tolerance there).
    """
    return same_bytes(launch(kernel, params, inputs, device), launch(kernel, params, inputs, device))


# ----------------------------------------------------------------------------- loading


def merge_modules(sources: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """One module holding every (source, kernel name), top-level names suffixed `_k<n>`.

    Generated names are unique within a module (no shadowing), so renaming every
    use of a top-level name is exact.  Returns the source and the kernels' new names.
    """
    body: list[ast.stmt] = [ast.Import(names=[ast.alias(name="warp", asname="wp")])]
    names = []
    for n, (source, kernel_name) in enumerate(sources):
        tree = ast.parse(source)
        definitions = [s for s in tree.body if not isinstance(s, ast.Import | ast.ImportFrom)]
        top = {name: f"{name}_k{n}" for s in definitions for name in _defined_names(s)}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in top:
                node.name = top[node.name]
            elif isinstance(node, ast.Name) and node.id in top:
                node.id = top[node.id]
        body += definitions
        names.append(top[kernel_name])
    return ast.unparse(ast.Module(body=body, type_ignores=[])) + "\n", names


def _defined_names(stmt: ast.stmt) -> list[str]:
    """Names a top-level statement binds: helpers, kernels, structs and `wp.constant`s."""
    if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    return []


@contextmanager
def loaded(source: str, device: str = "cpu") -> Iterator[Any]:
    """The Python module of `source`, built by Warp for `device`; released on exit.

    Every load gets a name of its own: Warp unloads a released module's binary
    by name when it is garbage-collected, so a later load of the same source
    under the same name would lose its code (stale symbols, a crash).
    """
    wp = _wp()
    name = f"{EXEC_MODULE}_{next(_LOADS)}_{hashlib.sha1(source.encode()).hexdigest()[:12]}"
    with warp_private.WarpModule(name, source) as module:
        with warp_private.native_output_silenced(1, 2):
            wp.load_module(module.py_module, device=device)
        yield module.py_module


class LoadFailed(Exception):
    """Warp could not build a kernel's module."""


def load_kernels(sources: Sequence[tuple[str, str]], device: str = "cpu") -> Iterator[tuple[int, Any]]:
    """(index, wp.Kernel or LoadFailed) for each (source, kernel name), compiled in merged groups.

    A group that fails to build is split in halves until the failing kernels are alone.
    """

    def group(indices: list[int]) -> Iterator[tuple[int, Any]]:
        merged, names = merge_modules([sources[i] for i in indices])
        stack = ExitStack()
        try:
            module = stack.enter_context(loaded(merged, device))
        except Exception as e:
            if len(indices) == 1:
                yield indices[0], LoadFailed(_short(e))
            else:
                yield from group(indices[: len(indices) // 2])
                yield from group(indices[len(indices) // 2 :])
            return
        with stack:
            for i, name in zip(indices, names, strict=True):
                yield i, getattr(module, name)

    if sources:
        yield from group(list(range(len(sources))))


def _short(e: BaseException) -> str:
    return re.sub(r"\s+", " ", f"{type(e).__name__}: {e}")[-500:]
