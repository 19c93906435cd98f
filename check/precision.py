"""A kernel's float64 twin: the same module with every float type and literal widened to float64.

Re-executing a kernel in float64 on the same inputs (float32 and float16 values are
exact in float64) tells rounding from a wrong result: a float32 gradient that
disagrees with finite differences while the float64 twin's agrees is float32
rounding (an adjoint of a quantity that is exactly zero, such as the cross
product of parallel vectors, is a rounding residue of 1e-5 in float32), and of two
Warp versions whose float32 results differ, the one matching the float64 result
is right.

Types are renamed through the grammar's type table (`vec3f`/`wp.vec3` to `wp.vec3d`,
`float` to `wp.float64`, `wp.float16` to `wp.float64` ...); float literals, which
Warp types as float32, become `wp.float64(...)`.  A kernel whose twin Warp cannot
lower (a builtin with no float64 overload, such as `wp.noise` or `wp.randf`) has
no twin: `float64_twin` returns None.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

import numpy as np

from check.execute import Inputs, Param, leaves
from emit.lower import Kernel
from grammar.astnodes import wp_name
from grammar.types import BY_WARP_NAME, FLOAT_SCALARS, SPELLINGS, SUFFIX

#: Every source spelling of a float32 or float16 based type (`float`, `vec3`, `mat22h` ...) -> its
#: float64 twin's annotation.
WIDENED: dict[str, str] = {
    spelling: BY_WARP_NAME[
        name.removesuffix(SUFFIX[t.scalar]) + SUFFIX["float64"] if t.shape else "float64"
    ].annotation
    for spelling, name in SPELLINGS.items()
    if (t := BY_WARP_NAME[name]).scalar in FLOAT_SCALARS and t.scalar != "float64"
}


class _Widen(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.expr:
        return _expression(WIDENED[node.id]) if node.id == "float" else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        name = wp_name(node)
        return _expression(WIDENED[name]) if name in WIDENED else self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if isinstance(node.value, float):
            return ast.Call(func=_expression("wp.float64"), args=[node], keywords=[])
        return node


def _expression(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def float64_source(source: str) -> str:
    """`source` with every float type and float literal widened to float64."""
    return ast.unparse(_Widen().visit(ast.parse(source))) + "\n"


def float64_twin(kernel: Kernel) -> Kernel | None:
    """The float64 twin of a kernel, or None where Warp cannot lower it (see the module docstring)."""
    twin = Kernel(float64_source(kernel.source), kernel.name)
    try:
        twin.code("cpu")
    except Exception:
        return None
    return twin


def float64_inputs(params: Sequence[Param], inputs: Inputs) -> Inputs:
    """`inputs` with every float value widened to float64 (the twin's parameters have the same names)."""
    values = dict(inputs.values)
    for p in leaves(params):
        if not p.is_struct and p.numpy_dtype.kind == "f":
            values[p.name] = np.asarray(values[p.name], dtype=np.float64)
            if not p.is_array and not p.element_shape:
                values[p.name] = values[p.name].item()
    return Inputs(inputs.shape, values, inputs.tile)
