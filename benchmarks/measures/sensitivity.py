"""Do outputs depend on inputs when run?  `measures.dataflow`'s figures are syntactic; this runs kernels.

Each kernel is launched on the CPU by the executor (`check.executor`, in a child process) on its
inputs drawn from its seed, then again with values it only reads (input arrays, scalar parameters,
struct fields) drawn again, outputs and accumulators starting as before.  Three figures, after the
issue that asked for them:

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

from check import handles
from check.execute import Inputs, Param, Unsupported, describe, leaves, redraw
from check.executor import Arrays, Case, Execution, execute, pinned
from grammar.sample import sample
from grammar.unparse import to_source

GROUP = 25  # kernels per merged module (compiling is mostly fixed cost)
#: Roles of the values a kernel only reads (what `check.execute.redraw` draws again).
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
    return [p for p in leaves(params) if p.is_array and p.role not in READ_ONLY]


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
            for q in leaves([p])
            if q.role in READ_ONLY and not isinstance(inputs.values[q.name], handles.Recipe)
        )
        if names:
            found[p.name] = names
    return found


def _alone(params: Sequence[Param], inputs: Inputs, names: tuple[str, ...], seed: int) -> Inputs:
    """`inputs` with only the values `names` drawn again."""
    again = redraw(params, inputs, seed)
    return Inputs(inputs.shape, inputs.values | {n: again.values[n] for n in names}, inputs.tile)


def _plain(params: Sequence[Param], inputs: Inputs) -> bool:
    return not any(p.is_struct or isinstance(inputs.values.get(p.name), handles.Recipe) for p in params)


def _case(source: str, kernel_name: str, seed: int) -> Case | None:
    """The kernel launched on the inputs of `seed`, then with every input drawn again (seed + 1), then
    with each input alone drawn again; None if it cannot be run."""
    try:
        params, inputs = describe(source, kernel_name, seed)
    except Unsupported:
        return None
    read = _read_only(params, inputs)
    redraws = (
        redraw(params, inputs, seed + 1),
        *(_alone(params, inputs, n, seed + 1) for n in read.values()),
    )
    return Case(source, kernel_name, tuple(params), inputs, redraws=redraws)


def measure_run(case: Case, run: Execution) -> Kernel | None:
    """The counts of one kernel from its launches (`_case`); None if it did not run."""
    if not run.ran:
        return None
    params, outputs = case.params, _outputs(case.params)
    first, (second, *alone) = run.outputs, run.redrawn
    dead_outputs = tuple(p.name for p in outputs if first[p.name].tobytes() == second[p.name].tobytes())
    elements = sum(_changed_elements(first[p.name], second[p.name], p.ndim) for p in outputs)
    total = sum(int(np.prod(first[p.name].shape[: p.ndim])) for p in outputs)
    read = _read_only(params, case.inputs)
    dead_inputs = tuple(
        n for n, again in zip(read, alone, strict=True) if all(_same(first, again, p) for p in outputs)
    )
    return Kernel(
        outputs=(len(outputs) - len(dead_outputs), len(outputs)),
        inputs=(len(read) - len(dead_inputs), len(read)),
        elements=(elements, total),
        dead_outputs=dead_outputs,
        dead_inputs=dead_inputs,
        plain=_plain(params, case.inputs),
    )


def _same(a: Arrays, b: Arrays, p: Param) -> bool:
    return a[p.name].tobytes() == b[p.name].tobytes()


def measure_sources(sources: Sequence[tuple[str, str, int]], *figures: Figures) -> None:
    """Add the kernels given as (module source, kernel name, seed of their inputs) to `figures`."""
    cases = [(seed, c) for source, name, seed in sources if (c := _case(source, name, seed)) is not None]
    for begin in range(0, len(cases), GROUP):
        group = cases[begin : begin + GROUP]
        runs = execute([c for _, c in group], pinned())
        for (seed, case), run in zip(group, runs, strict=True):
            measured = measure_run(case, run)
            for f in figures if measured is not None else ():
                f.add(seed, measured)


def measure(seeds: Iterable[int], differentiable: bool = False, plain_only: bool = False) -> Figures:
    """The figures of the kernels the grammar samples for `seeds`."""
    samples = [sample(seed, differentiable=differentiable) for seed in seeds]
    figures = Figures(plain_only)
    measure_sources([(to_source(s.tree), s.kernel_name, s.seed) for s in samples], figures)
    return figures
