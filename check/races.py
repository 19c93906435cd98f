"""Data races: two threads (or two tile blocks) writing one element of an output other than through
an atomic.

Such a kernel is the generator's defect, never a Warp finding: which write lands
is unspecified (on a CPU the last thread's does, so finite differences see one
write while the adjoint sums every thread's), so its forward results and its
gradient say nothing about Warp.  The grammar writes an output only at the
thread's own index (`out[i, j] = ...`) or stores the block's own tile
(`wp.tile_store(out, t, offset=(i * ROWS, j * COLS))`), so no kernel it draws
races; a reduction step (`check.shrink`: `i * ROWS` replaced by `i`, an index by
`1`) may make one, and must not be kept.

The check runs every thread (every block of a tile kernel) on its own: the
kernel's *probe* (`probe_source`) takes the launch index to run as extra
parameters and returns at once in every other thread.  Each thread is launched
twice, its outputs filled first with FILLS[0] and then with FILLS[1]; an element
it wrote differs from the fill in at least one of the two launches.  An element
written by two threads is a race.  Accumulators are updated through atomics and
are not checked.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Sequence

from check.execute import Inputs, Param, Unsupported
from check.executor import FILLS, Case, execute
from check.runner import first_race
from emit.lower import Kernel

#: Names the probe adds: its parameters `race_probe_<d>` and its thread's index `race_probe_tid_<d>`.
PROBE = "race_probe"
#: Failure kinds that rest on the values a launch writes: a race makes them say nothing about Warp.
RACY_KINDS = ("gradient", "nondeterministic", "cpu_gpu_mismatch", "differential")
#: `FILLS` (the values an output is filled with before a thread's two launches: any two distinct values
#: do) and `first_race` (which element two threads wrote) are the executor's: reproducers carry them.
__all__ = ["FILLS", "PROBE", "RACY_KINDS", "first_race", "outputs", "probe_copy", "probe_source", "race"]


def probe_source(kernel: Kernel, ndim: int) -> str:
    """The kernel's module with the kernel running only the thread (the block) its `race_probe_<d>`
    parameters name: the others return before anything else."""
    tree = copy.deepcopy(kernel.tree)
    definition = next(s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == kernel.name)
    wanted = [f"{PROBE}_{d}" for d in range(ndim)]
    ours = [f"{PROBE}_tid_{d}" for d in range(ndim)]
    definition.args.args += [
        ast.arg(arg=name, annotation=ast.Name(id="int", ctx=ast.Load())) for name in wanted
    ]
    targets = [ast.Name(id=n, ctx=ast.Store()) for n in ours]
    tid = ast.parse("wp.tid()", mode="eval").body
    first = ast.Assign(
        targets=[targets[0] if ndim == 1 else ast.Tuple(elts=targets, ctx=ast.Store())], value=tid
    )
    other = [ast.parse(f"{t} != {w}", mode="eval").body for t, w in zip(ours, wanted, strict=True)]
    test = other[0] if ndim == 1 else ast.BoolOp(op=ast.Or(), values=other)
    definition.body = [first, ast.If(test=test, body=[ast.Return(value=None)], orelse=[]), *definition.body]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def outputs(params: Sequence[Param]) -> list[Param]:
    """The arrays a race check watches: kernel parameters with the output role."""
    return [p for p in params if p.is_array and p.role == "output"]


def race(source: str, kernel_name: str, params: Sequence[Param], inputs: Inputs) -> str | None:
    """Whether the kernel races on `inputs` (see the module docstring): the first race in words, or None.
    Raises `Unsupported` when the probe cannot be built or launched (nothing is known)."""
    watched = tuple(p.name for p in outputs(params))
    if not watched:
        return None
    probe = probe_source(Kernel(source, kernel_name), len(inputs.shape))
    (run,) = execute([Case(probe, kernel_name, tuple(params), inputs, alone=watched)])
    if run.status == "build_failed":
        raise Unsupported(f"the race probe does not build: {run.message}")
    if run.status == "raised":  # the probe's launch raised: the kernel's own launch does as well
        raise Unsupported(f"the race probe does not launch: {run.message}")
    return run.race


def probe_copy(kernel: Kernel, ndim: int) -> str:
    """The probe's kernel alone, renamed `<kernel>_probe`, to sit beside the kernel in a reproducer."""
    probe = Kernel(probe_source(kernel, ndim), kernel.name).definition
    probe.name = f"{kernel.name}_probe"
    return ast.unparse(probe)
