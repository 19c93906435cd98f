"""A fuzzing campaign: which kernel each candidate is, how it is checked, and groups checked by workers.

Per kernel (candidate seeds as in the main command; `candidate_kernel`): Warp's code
for it compiles (CPU clang and CUDA NVRTC); then the judge's checks (`check.judge`)
run it through the one executor in a child process: a debug build without a failed
assertion or a signal (else the generator emitted undefined behaviour: a
`generator_defect`), two identical launches, its backward against finite
differences, and with a CUDA GPU its GPU results against the CPU's.  Kernels are
checked in groups; `checked_groups` checks several at once in supervised worker
processes (`check.supervisor`), in order.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import warp_access
from check.fuzz.results import WORKER_FAILED
from check.harness import Report, Status, check_compiles
from check.isolation import Watch
from check.judge import TargetCheck, installation
from check.kinds import KINDS
from check.runner import end_with_parent
from check.supervisor import Beat, Pool, Task, TaskFailed
from emit.records import candidate_seed
from grammar.sample import Sample, sample
from grammar.unparse import to_source

#: Kernels checked per compiled module, per child process and per checkpoint.
GROUP = 25
#: Seconds a fuzz worker may go without a heartbeat: sampling and compiling a group on both backends
#: (while the group's child runs it beats about once a second; the child has its own stall limit).
GROUP_STEP_SECONDS = 900.0
#: Groups in flight per worker (`--workers` > 1): a slow group at the head of the in-order results
#: does not leave the other workers idle.
HELD_GROUPS_PER_WORKER = 2


#: Of every DIFFERENTIABLE_EVERY candidates, the first is drawn under the dataset's policy (so
#: fuzz meets every construct) and the others under the differentiable one (float data flow
#: through differentiable operations: gradient checks that compare real derivatives).
DIFFERENTIABLE_EVERY = 3


def candidate_kernel(base_seed: int, index: int) -> Sample:
    """The kernel fuzzed as candidate `index` of a run: the one place that picks it."""
    return sample(candidate_seed(base_seed, index), differentiable=index % DIFFERENTIABLE_EVERY != 0)


@dataclass(frozen=True)
class Checks:
    """How kernels are checked: under `target`'s installations (`check.judge`: the pinned Warp in a child
    process, on the CPU and, when `gpu`, the GPU; or other installations)."""

    gpu: bool
    target: TargetCheck

    @classmethod
    def pinned(cls, gpu: bool) -> Checks:
        """The checks with the pinned Warp (on the GPU too when `gpu`)."""
        devices = ("cpu", "cuda") if gpu else ("cpu",)
        return cls(gpu, TargetCheck(installation(None, "target"), devices=devices))

    @property
    def elsewhere(self) -> bool:
        """Whether another installation than the pinned one takes part."""
        return not self.target.target.pinned or self.target.against is not None

    @property
    def versions(self) -> list[str]:
        """Every Warp version the run tests."""
        return list(self.target.versions.values())

    @property
    def warp(self) -> dict[str, str]:
        """The Warp versions by role (`target`, `against`), as results and fuzz.json record them."""
        return self.target.versions

    @property
    def identity(self) -> dict[str, Any]:
        """What else the results depend on (a resumed run must have the same)."""
        if not self.elsewhere:
            return {}
        sides = (self.target.target, self.target.against)
        return {s.role: {"python": s.python, "warp": s.version} for s in sides if s is not None}

    @property
    def batch(self) -> int:
        """Variants a shrinking predicate checks at once: many per process under another installation."""
        return 16 if self.elsewhere else 1

    def describe(self) -> str:
        against = self.target.against
        return self.target.target.label + (f", compared with {against.label}" if against else "")

    def group(self, base_seed: int, indices: range, watch: Watch | None = None) -> list[Report]:
        """Every check on candidates `indices`: compiled on both backends here, executed in a child."""
        reports = []
        for k in indices:
            s = candidate_kernel(base_seed, k)
            policy = {"policy": "differentiable" if s.policy and s.policy.differentiable else "dataset"}
            reports.append(Report(s.seed, s.kernel_name, s.kernel_type, to_source(s.tree), metadata=policy))
        check_compiles(reports, "cpu")
        check_compiles(reports, "cuda")
        return self.target.check(reports, watch)

    def variants(
        self,
        reports: list[Report],
        kind: str,
        device: str = "cpu",
        quick: bool = True,
        gradients: bool = True,
    ) -> list[Report]:
        """The checks a shrinking predicate needs to see failure `kind` (on `device`) on variants of a
        kernel (`quick`: no more; no float64 twins, and no adjoints unless `gradients`).  With the pinned
        Warp a compile failure needs no run, and only a crash needs a process of its own."""
        if kind == "compile":  # a compile finding of another installation's: the pinned Warp compiles it
            check_compiles(reports, device)
            if not self.elsewhere:
                return reports
        debug = KINDS[kind].in_debug_build  # (a debug build may end its process: isolated)
        isolated = self.elsewhere or kind == "crash" or debug
        return self.target.check(reports, quick=quick, gradients=gradients, isolated=isolated, debug=debug)


def checked_groups(
    checks: Checks, base_seed: int, groups: Iterable[range], workers: int, watch: Watch | None
) -> Iterator[tuple[range, list[Report]]]:
    """Each group's checked reports, in order; `workers` > 1 checks that many groups at once, each in a
    supervised worker process (`check.supervisor`; `watch` hears only this process's checks): a group
    whose worker fails twice comes back as `skipped_group`."""
    if workers == 1:
        for indices in groups:
            yield indices, checks.group(base_seed, indices, watch)
        return
    pool = Pool(workers, check_group, (checks, base_seed), GROUP_STEP_SECONDS)
    try:
        pending: deque[tuple[range, Task]] = deque()
        for indices in groups:
            pending.append((indices, pool.submit(indices.start, indices.stop)))
            if len(pending) >= HELD_GROUPS_PER_WORKER * workers:
                yield _finished(pool, base_seed, *pending.popleft())
        while pending:
            yield _finished(pool, base_seed, *pending.popleft())
    finally:
        pool.close()


def _finished(pool: Pool, base_seed: int, indices: range, task: Task) -> tuple[range, list[Report]]:
    try:
        return indices, pool.result(task)
    except TaskFailed as e:
        return indices, skipped_group(base_seed, indices, str(e))


def skipped_group(base_seed: int, indices: range, why: str) -> list[Report]:
    """The reports of a group given up after two workers failed on it: unchecked, execution
    `worker_failed: <why>` (as the main job counts such candidates); the seed replays each."""
    reports = [Report(candidate_seed(base_seed, k), "", "", "") for k in indices]
    for r in reports:
        r.status = Status(WORKER_FAILED, why)
    return reports


def check_group(checks: Checks, base_seed: int, lo: int, hi: int, beat: Beat) -> list[Report]:
    """`Checks.group` of candidates `lo` to `hi` in a supervised worker; what its checks are at
    (the child's phase and kernel, about once a second) is the worker's heartbeat."""
    _worker_start()
    beat(f"compiling candidates {lo}..{hi - 1}", 1)

    def at(phase: str, index: int | None) -> None:
        beat(f"{phase} of candidate {'?' if index is None else lo + index}", 1)

    return checks.group(base_seed, range(lo, hi), at)


@cache
def _worker_start() -> None:
    """Once per worker: it ends with its parent; Warp started."""
    end_with_parent(os.getppid())
    warp_access.init_warp()
