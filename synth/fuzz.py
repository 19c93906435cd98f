"""`python -m synth fuzz`: differential fuzzing of generated kernels, run like a test runner.

Per kernel (candidate seeds as in the main command; `candidate_kernel`): Warp's code
for it compiles (CPU clang and CUDA NVRTC); a debug build of it runs on CPU without
a failed array-bounds assertion or a signal (else the generator emitted undefined
behaviour: a `generator_defect`); a release build launches on CPU with inputs drawn
from its seed, two launches give the same bytes, its backward matches finite
differences, and, with a CUDA GPU, its GPU results match the CPU's (`check.judge`).
Kernels are checked in groups, each in a child process (`check.executor`); after
each group its results are appended and checkpointed (`synth.fuzz_results`), so an
interrupted run continues where it stopped.  A failure that matches a known Warp
bug's signature (`check.known`) is reported as known; a new one is shrunk and written
to `OUT/findings/` as a plain-Warp reproducer, once that reproducer, run as saved
under every installation the run names, reproduces (`synth.fuzz_findings`).  A
failure of values (a gradient, differing results) of a kernel with a data race is
the generator's defect, not Warp's (`check.races`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import warp_access
from check.harness import Report, check_compiles
from check.isolation import ChildFailed, Watch
from check.judge import Installation, TargetCheck, TargetError, distinct, installation
from check.runner import end_with_parent
from check.supervisor import Beat, Pool, Task, TaskFailed
from emit.lower import DEVICES
from emit.writer import DatasetMismatch
from grammar.sample import Sample, sample
from grammar.unparse import to_source
from synth.args import Parser, UsageError, positive_int, seed
from synth.fuzz_findings import Filer
from synth.fuzz_report import FuzzProgress, print_summary
from synth.fuzz_results import (
    EXIT_CODES,
    EXIT_HARNESS,
    RESULTS,
    WORKER_FAILED,
    ResultsWriter,
    result_line,
    summarize,
)
from synth.pipeline import candidate_seed

#: Kernels checked per compiled module, per child process and per checkpoint.
GROUP = 25
#: Seconds a fuzz worker may go without a heartbeat: sampling and compiling a group on both backends
#: (while the group's child runs it beats about once a second; the child has its own stall limit).
GROUP_STEP_SECONDS = 900.0
#: Groups in flight per worker (`--workers` > 1): a slow group at the head of the in-order results
#: does not leave the other workers idle.
HELD_GROUPS_PER_WORKER = 2


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option's help; the epilog (exit statuses) kept line by line."""


def build_fuzz_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m synth fuzz",
        description="Differential fuzzing of generated Warp kernels, run like a test runner.",
        epilog="exit status:\n" + "\n".join(f"  {code}  {what}" for code, what in EXIT_CODES.items()),
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="cpu: the checks on the CPU, as the main job does; cuda: also compare GPU with CPU "
        "results (on a machine with a GPU)",
    )
    parser.add_argument("--count", type=positive_int, default=100, metavar="N", help="kernels to fuzz")
    parser.add_argument("--seed", type=seed, default=0, metavar="S", help="base seed")
    parser.add_argument("--out", type=Path, default=Path("artifacts") / "fuzz", metavar="DIR", help="results")
    parser.add_argument(
        "--group",
        type=positive_int,
        default=GROUP,
        metavar="K",
        help="kernels per compiled module and per checkpoint (results do not depend on it)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="discard results and findings in --out instead of resuming"
    )
    parser.add_argument("--no-shrink", action="store_true", help="write new findings unshrunk")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="K",
        help="groups checked at once, each by a worker process (results do not depend on it)",
    )
    parser.add_argument(
        "--target-python",
        default=None,
        metavar="PATH",
        help="build, run and check the kernels with the Warp of this interpreter (another environment's: "
        "a release from 1.5 on, or a source checkout installed there) instead of the pinned one",
    )
    parser.add_argument(
        "--against",
        default=None,
        metavar="PATH",
        help="version-differential: also run every kernel under this interpreter's Warp and compare "
        "results and gradients with the target's (--target-python, or the pinned Warp)",
    )
    return parser


#: Of every DIFFERENTIABLE_EVERY candidates, the first is drawn under the dataset's policy (so
#: fuzz meets every construct) and the others under the differentiable one (float data flow
#: through differentiable operations: gradient checks that compare real derivatives).
DIFFERENTIABLE_EVERY = 3


def candidate_kernel(base_seed: int, index: int) -> Sample:
    """The kernel fuzzed as candidate `index` of a run: the one place that picks it."""
    return sample(candidate_seed(base_seed, index), differentiable=index % DIFFERENTIABLE_EVERY != 0)


def run_fuzz(args: argparse.Namespace) -> int:
    warp_access.init_warp()
    checks = _checks(args)
    identity = {"command": "fuzz", "device": args.device, "seed": args.seed} | checks.identity
    try:
        results = ResultsWriter(args.out, identity, fresh=args.fresh)
    except DatasetMismatch as e:
        raise UsageError(str(e)) from None
    for note in results.notes:
        print(f"synth fuzz: {note}", file=sys.stderr)
    session_start, earlier = time.perf_counter(), results.progress.seconds
    try:
        with FuzzProgress(args.count, results.progress.records) as progress:
            progress.start(_start_line(args, results.progress.records, checks))
            filer = Filer(args.out, checks, not args.no_shrink, progress.status)
            watch = progress.watch if args.workers == 1 else None
            pending = results.pending(args.count, args.group)
            for indices, reports in checked_groups(checks, args.seed, pending, args.workers, watch):
                lines = [result_line(k, r, filer.file(r)) for k, r in zip(indices, reports, strict=True)]
                results.append_group(lines, earlier + time.perf_counter() - session_start)
                filer.summarize(results.lines())
                progress.group_done(results.progress.records, results.progress.counters)
    except ChildFailed as e:
        print(f"synth fuzz: error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    finally:
        results.close()
    summary = summarize(results.lines(), checks.gpu, results.progress.seconds) | {"warp": checks.warp}
    results.write_stats(summary)
    print_summary(summary, args.device, str(args.out))
    unchecked = summary["execution"].get(WORKER_FAILED)
    if unchecked:
        print(
            f"synth fuzz: error: {unchecked} kernels unchecked: their worker failed twice "
            f"({WORKER_FAILED} in {args.out / RESULTS} says how)",
            file=sys.stderr,
        )
    return summary["exit_status"]


def _checks(args: argparse.Namespace) -> Checks:
    """The checks `args` ask for; an interpreter that cannot serve is a bad argument (one line)."""
    if args.target_python is None and args.against is None:
        return Checks.pinned(_gpu(args.device))
    target = _installation(args.target_python, "target", "--target-python")
    against = _installation(args.against, "against", "--against") if args.against else None
    if against is not None:
        target, against = distinct(target, against)
    return Checks(False, TargetCheck(target, against))


def _installation(python: str | None, role: str, option: str) -> Installation:
    try:
        return installation(python, role)
    except TargetError as e:
        raise UsageError(f"{option} {e}") from None


def _gpu(device: str) -> bool:
    """Whether CPU/GPU comparisons run; with `--device cuda` and no GPU, says so in one line."""
    if device != "cuda":
        return False
    import warp as wp

    if wp.get_cuda_device_count() == 0:
        print("synth fuzz: no CUDA GPU on this machine; running the CPU checks only", file=sys.stderr)
        return False
    return True


def _start_line(args: argparse.Namespace, done: int, checks: Checks) -> str:
    if done >= args.count:
        return f"{args.out} holds {done} kernels already (--count {args.count}): nothing to check"
    where = f"resuming at kernel {done + 1} of {args.count}" if done else f"checking {args.count} kernels"
    under = f" under {checks.describe()}" if checks.elsewhere else ""
    return f"{where}{under} (seed {args.seed}, {args.group} per group) -> {args.out}"


# ----------------------------------------------------------------------------- checks


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
        isolated = self.elsewhere or kind == "crash"
        return self.target.check(reports, quick=quick, gradients=gradients, isolated=isolated)


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
    failed = {"execution": f"{WORKER_FAILED}: {why}"}
    return [Report(candidate_seed(base_seed, k), "", "", "", metadata=dict(failed)) for k in indices]


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
