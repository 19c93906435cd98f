"""Do outputs depend on inputs when run?  `check.dataflow`'s figures are syntactic; this runs kernels.

Each kernel is launched on the CPU twice (`check.execute`): on its inputs drawn from its seed, and
with every value it only reads (input arrays, scalar parameters, struct fields) drawn again from
another seed, outputs and accumulators starting as before.  An output array is *sensitive* when its
bytes differ between the two launches.  A kernel whose output ignores its inputs computes a constant
(or noise of the thread index): a hollow program.  Chance can leave an output unchanged (a
comparison that comes out the same for both draws), so the share is a lower bound.
"""

from __future__ import annotations

from check import execute
from check.execute import LoadFailed, Unsupported
from grammar.sample import sample
from grammar.unparse import to_source

GROUP = 25  # kernels per merged module (compiling is mostly fixed cost)


def insensitive_outputs(kernel: object, seed: int) -> tuple[int, list[str]] | None:
    """(outputs, the names of those unchanged by new inputs); None if the kernel cannot be run."""
    try:
        params, inputs = execute.prepare(kernel, seed)
    except Unsupported:
        return None
    first = execute.launch(kernel, params, inputs)
    second = execute.launch(kernel, params, execute.redraw(params, inputs, seed + 1))
    outputs = [p.name for p in execute.leaves(params) if p.is_array and p.role != "input"]
    same = [n for n in outputs if first[n].tobytes() == second[n].tobytes()]
    return len(outputs), same


def measure(seeds: range, differentiable: bool = False) -> tuple[float, int, list[int]]:
    """(share of output arrays that new inputs change, kernels run, seeds of kernels with an output
    they do not change)."""
    samples = [sample(seed, differentiable=differentiable) for seed in seeds]
    outputs = sensitive = kernels = 0
    hollow: list[int] = []
    for begin in range(0, len(samples), GROUP):
        group = samples[begin : begin + GROUP]
        sources = [(to_source(s.tree), s.kernel_name) for s in group]
        for n, kernel in execute.load_kernels(sources):
            measured = None if isinstance(kernel, LoadFailed) else insensitive_outputs(kernel, group[n].seed)
            if measured is None:
                continue
            count, same = measured
            kernels += 1
            outputs += count
            sensitive += count - len(same)
            if same:
                hollow.append(group[n].seed)
    return sensitive / outputs, kernels, hollow
