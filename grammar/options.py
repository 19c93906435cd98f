"""Kernel and module options: `@wp.kernel(enable_backward=False)`, `@wp.kernel(module="unique",
module_options={...})`, drawn per kernel (policy switch `options`) from one table.

Every row changes the code Warp generates (the adjoint is not emitted, CUDA gets
`__launch_bounds__`, a lean launch without a grid-stride loop, `#line` directives,
another block size, Warp's own CUDA instead of MathDx ...); records state the
options their code was lowered with (`metadata.codegen`).  Rows that would take a
kernel outside what the fuzzer's checks rely on are not drawn there: no
`enable_backward=False` under a differentiable policy (its gradient is checked),
no `max_unroll` at all (the gradient check's contract assumes Warp's default
unrolling).  Tile operations may require module options (an FFT's `block_dim`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from grammar.astnodes import wp_attr
from grammar.choices import choice
from grammar.context import Gen


@dataclass(frozen=True)
class Option:
    name: str
    values: tuple[Any, ...]
    module: bool = False  # a module option (`module_options=`), else a kernel option
    tiles: bool = False  # only for tile kernels (block size, the MathDx switches)
    differentiable: bool = True  # may appear under a differentiable policy
    excludes: str = ""  # an option Warp rejects together with this one


#: The options a kernel may be generated with.
OPTIONS: tuple[Option, ...] = (
    Option("enable_backward", (False,), differentiable=False),
    Option("grid_stride", (False,)),
    Option("launch_bounds", (256, 512, 1024), excludes="cuda_max_registers"),
    Option("cuda_max_registers", (64, 128), excludes="launch_bounds"),
    Option("enable_cuda_smem_spilling", (True,)),
    Option("lineinfo", (True,), module=True),
    Option("default_grid_stride", (False,), module=True),
    Option("block_dim", (32, 64, 128), module=True, tiles=True),
    Option("enable_mathdx_gemm", (False,), module=True, tiles=True),
    Option("enable_mathdx_solver", (False,), module=True, tiles=True),
    Option("enable_mathdx_fft", (False,), module=True, tiles=True),
)


def draw_options(g: Gen, tiles: bool, required: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(kernel options, module options): `required` module options, plus one or two drawn rows
    if the policy's `options` switch is on."""
    kernel: dict[str, Any] = {}
    module = dict(required)
    if g.policy.on("options"):
        rows = [
            o
            for o in OPTIONS
            if (tiles or not o.tiles)
            and (o.differentiable or not g.policy.differentiable)
            and o.name not in module
        ]
        for _ in range(g.ch.integer(1, 2)):
            row = choice(g.ch, rows)
            taken = kernel | module
            if row.name not in taken and row.excludes not in taken:
                (module if row.module else kernel)[row.name] = choice(g.ch, row.values)
    return kernel, module


def decorator(kernel: dict[str, Any], module: dict[str, Any]) -> ast.expr:
    """`wp.kernel`, or `wp.kernel(option=value, ..., module="unique", module_options={...})`."""
    if not kernel and not module:
        return wp_attr("kernel")
    keywords = [ast.keyword(arg=k, value=ast.Constant(v)) for k, v in kernel.items()]
    if module:
        spelled = ast.Dict(
            keys=[ast.Constant(k) for k in module], values=[ast.Constant(v) for v in module.values()]
        )
        keywords += [
            ast.keyword(arg="module", value=ast.Constant("unique")),
            ast.keyword(arg="module_options", value=spelled),
        ]
    return ast.Call(func=wp_attr("kernel"), args=[], keywords=keywords)
