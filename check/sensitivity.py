"""Do outputs depend on inputs when run?  `check.dataflow`'s figures are syntactic; this runs kernels.

Each kernel is launched on the CPU (`check.execute`) on its inputs drawn from its seed, then again
with values it only reads (input arrays, scalar parameters, struct fields) drawn again, outputs and
accumulators starting as before.  Three figures, after the issue that asked for them:

- *output sensitivity*: the share of output arrays whose bytes differ when every input is drawn
  again;
- *input influence*: the share of inputs (each parameter the kernel only reads: an array, a scalar,
  a struct's read-only fields together) that change some output when that input alone is drawn
  again;
- *element sensitivity*: the share of output elements (one array element, all its components)
  that differ when every input is drawn again.

A kernel whose output ignores its inputs computes a constant (or noise of the thread index): a
hollow program.  Chance can leave an output unchanged (a comparison that comes out the same for
both draws), so each share is a lower bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from check import execute, handles
from check.execute import Inputs, LoadFailed, Param, Unsupported
from grammar.sample import sample
from grammar.unparse import to_source

GROUP = 25  # kernels per merged module (compiling is mostly fixed cost)
#: Roles of the values a kernel only reads (what `execute.redraw` draws again).
READ_ONLY = ("input", "scalar")


@dataclass(frozen=True)
class Kernel:
    """One kernel's counts: (changed, of) per figure, and the names of what changed nothing."""

    outputs: tuple[int, int]
    inputs: tuple[int, int]
    elements: tuple[int, int]
    dead_outputs: tuple[str, ...]
    dead_inputs: tuple[str, ...]
    plain: bool  # takes arrays and scalars only (no struct, no object handle)


@dataclass
class Figures:
    """The three shares over a run, and the seeds of kernels with an output or input that mattered not."""

    plain_only: bool = False  # count only `plain` kernels (those the figures were measured on)
    kernels: int = 0
    counts: dict[str, list[int]] = field(default_factory=lambda: {k: [0, 0] for k in FIGURES})
    hollow: list[int] = field(default_factory=list)  # an output no new input changes
    deaf: list[int] = field(default_factory=list)  # an input that changes no output

    def add(self, seed: int, k: Kernel) -> None:
        if self.plain_only and not k.plain:
            return
        self.kernels += 1
        for name in FIGURES:
            changed, of = getattr(k, name)
            self.counts[name][0] += changed
            self.counts[name][1] += of
        if k.dead_outputs:
            self.hollow.append(seed)
        if k.dead_inputs:
            self.deaf.append(seed)

    def share(self, name: str) -> float:
        changed, of = self.counts[name]
        return changed / of if of else 0.0


#: The figures, by the `Kernel` field counting them.
FIGURES = ("outputs", "inputs", "elements")


def _outputs(params: Sequence[Param]) -> list[Param]:
    return [p for p in execute.leaves(params) if p.is_array and p.role not in READ_ONLY]


def _changed_elements(a: np.ndarray, b: np.ndarray, ndim: int) -> int:
    """Array elements (the first `ndim` axes; components together) whose bytes differ."""
    n = int(np.prod(a.shape[:ndim]))
    rows = np.ascontiguousarray(a).reshape(n, -1).view(np.uint8)
    return int((rows != np.ascontiguousarray(b).reshape(n, -1).view(np.uint8)).any(axis=1).sum())


def _read_only(params: Sequence[Param], inputs: Inputs) -> dict[str, tuple[str, ...]]:
    """The kernel's inputs: each parameter it only reads (a struct: its fields it only reads, drawn
    again together), by name, with the leaf values it stands for; object handles are not drawn."""
    found: dict[str, tuple[str, ...]] = {}
    for p in params:
        names = tuple(
            q.name
            for q in execute.leaves([p])
            if q.role in READ_ONLY and not isinstance(inputs.values[q.name], handles.Recipe)
        )
        if names:
            found[p.name] = names
    return found


def _alone(params: Sequence[Param], inputs: Inputs, names: tuple[str, ...], seed: int) -> Inputs:
    """`inputs` with only the values `names` drawn again."""
    again = execute.redraw(params, inputs, seed)
    return Inputs(inputs.shape, inputs.values | {n: again.values[n] for n in names}, inputs.tile)


def _plain(params: Sequence[Param], inputs: Inputs) -> bool:
    return not any(p.is_struct or isinstance(inputs.values.get(p.name), handles.Recipe) for p in params)


def measure_kernel(kernel: object, seed: int) -> Kernel | None:
    """The counts of one loaded kernel on the inputs of `seed`; None if it cannot be run."""
    try:
        params, inputs = execute.prepare(kernel, seed)
    except Unsupported:
        return None
    first = execute.launch(kernel, params, inputs)
    second = execute.launch(kernel, params, execute.redraw(params, inputs, seed + 1))
    outputs = _outputs(params)
    dead_outputs = tuple(p.name for p in outputs if first[p.name].tobytes() == second[p.name].tobytes())
    elements = sum(_changed_elements(first[p.name], second[p.name], p.ndim) for p in outputs)
    total = sum(int(np.prod(first[p.name].shape[: p.ndim])) for p in outputs)
    read = _read_only(params, inputs)
    dead_inputs = tuple(
        n for n, leaves in read.items() if _deaf(kernel, params, inputs, leaves, seed + 1, first, outputs)
    )
    return Kernel(
        outputs=(len(outputs) - len(dead_outputs), len(outputs)),
        inputs=(len(read) - len(dead_inputs), len(read)),
        elements=(elements, total),
        dead_outputs=dead_outputs,
        dead_inputs=dead_inputs,
        plain=_plain(params, inputs),
    )


def _deaf(
    kernel: object,
    params: Sequence[Param],
    inputs: Inputs,
    names: tuple[str, ...],
    seed: int,
    first: dict[str, np.ndarray],
    outputs: Sequence[Param],
) -> bool:
    """No output changes when only the values `names` (one input) are drawn again."""
    again = execute.launch(kernel, params, _alone(params, inputs, names, seed))
    return all(first[p.name].tobytes() == again[p.name].tobytes() for p in outputs)


def measure_sources(sources: Sequence[tuple[str, str, int]], *figures: Figures) -> None:
    """Add the kernels given as (module source, kernel name, seed of their inputs) to `figures`."""
    for begin in range(0, len(sources), GROUP):
        group = sources[begin : begin + GROUP]
        for n, kernel in execute.load_kernels([(s, name) for s, name, _ in group]):
            measured = None if isinstance(kernel, LoadFailed) else measure_kernel(kernel, group[n][2])
            if measured is None:
                continue
            for f in figures:
                f.add(group[n][2], measured)


def measure(seeds: Iterable[int], differentiable: bool = False, plain_only: bool = False) -> Figures:
    """The figures of the kernels the grammar samples for `seeds`."""
    samples = [sample(seed, differentiable=differentiable) for seed in seeds]
    figures = Figures(plain_only)
    measure_sources([(to_source(s.tree), s.kernel_name, s.seed) for s in samples], figures)
    return figures
