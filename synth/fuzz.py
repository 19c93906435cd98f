"""`python -m synth fuzz`: differential fuzzing of generated kernels.

Per kernel (candidate seeds as in the main command): Warp's code for it
compiles (CPU clang and CUDA NVRTC), it launches on CPU with inputs drawn from
its seed, two launches give the same bytes, its backward matches finite
differences (`check.gradcheck`), and, with a CUDA GPU, its GPU results match the
CPU's under the tolerance policy (`check.tolerance`).  Without a GPU it says so
in one line and runs the CPU checks.  Each failure is shrunk with Hypothesis
(`check.shrink`) and written to `OUT/findings/` as a plain-Warp reproducer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

import warp_access
from check import execute, tolerance
from check.compile import failing
from check.execute import Inputs, LoadFailed, Param, Unsupported
from check.findings import Finding, write_finding
from check.gradcheck import check_gradient
from emit.lower import DEVICES, error_summary, lower
from grammar.sample import sample
from grammar.strategies import DrawnKernel
from grammar.unparse import to_source
from synth.args import Parser, check_writable, positive_int, seed
from synth.pipeline import candidate_seed

#: Kernels merged into one Warp module for execution (one compile each).
GROUP = 25
#: Seconds a group's child process may go without starting the next kernel's checks
#: (loading the group's merged module included) before it is killed.
STALL_SECONDS = 300
#: Compile-check batch size (records' code, as in `--verify compile`).
COMPILE_BATCH = 16


@dataclass
class Report:
    """What the checks found for one kernel; `metadata` goes into results.jsonl."""

    seed: int
    kernel_name: str
    kernel_type: str
    source: str
    failures: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)
    metadata: dict[str, Any] = field(default_factory=dict)
    params: Sequence[Param] = ()
    inputs: Inputs | None = None


def build_fuzz_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m synth fuzz", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", choices=DEVICES, default="cuda", help="cuda: also compare GPU results with CPU"
    )
    parser.add_argument("--count", type=positive_int, default=100, metavar="N", help="kernels to fuzz")
    parser.add_argument("--seed", type=seed, default=0, metavar="S", help="base seed (default 0)")
    parser.add_argument("--out", type=Path, default=Path("artifacts") / "fuzz", metavar="DIR")
    parser.add_argument("--no-shrink", action="store_true", help="write findings unshrunk")
    return parser


def run_fuzz(args: argparse.Namespace) -> int:
    check_writable(args.out)
    warp_access.init_warp()
    import warp as wp

    gpu = args.device == "cuda" and wp.get_cuda_device_count() > 0
    if args.device == "cuda" and not gpu:
        print("synth fuzz: no CUDA GPU on this machine; running the CPU checks only", file=sys.stderr)
    start = time.perf_counter()

    def progress(done: int) -> None:
        print(f"synth fuzz: {done}/{args.count} kernels checked", file=sys.stderr, flush=True)

    reports = fuzz([candidate_seed(args.seed, k) for k in range(args.count)], gpu, progress)
    found = [r for r in reports if r.failures]
    for r in found:
        for kind, message in r.failures:
            write_finding(args.out, _finding(r, kind, message, gpu, shrink=not args.no_shrink))
    summary = _summary(reports, gpu, time.perf_counter() - start)
    _write_results(args.out, reports, summary)
    print(
        f"synth fuzz: {summary['kernels']} kernels, execution {summary['execution']}, "
        f"gradients {summary['gradcheck']}, "
        f"{summary['findings']} finding(s) -> {args.out}",
        file=sys.stderr,
    )
    return 0


# ----------------------------------------------------------------------------- checks


def fuzz(
    seeds: Sequence[int], gpu: bool, progress: Callable[[int], None] = lambda done: None
) -> list[Report]:
    """Run every check on the kernels of `seeds`; `progress` hears how many are done after each group."""
    reports = []
    for s in map(sample, seeds):
        source = to_source(s.tree)
        reports.append(Report(s.seed, s.kernel_name, s.kernel_type, source))
    _check_compiles(reports, "cpu")
    _check_compiles(reports, "cuda")
    checked = []
    for begin in range(0, len(reports), GROUP):
        checked += execute_isolated(reports[begin : begin + GROUP], gpu)
        progress(len(checked))
    return checked


def execute_group(group: list[Report], gpu: bool, mark: Path | None = None) -> list[Report]:
    """Load the group's kernels (merged, per device) and run the execution checks on each.

    With `mark`, the index of the kernel being checked is written there first (see `execute_isolated`).
    """
    sources = [(r.source, r.kernel_name) for r in group]
    cuda_kernels = dict(execute.load_kernels(sources, "cuda")) if gpu else {}
    for n, kernel in execute.load_kernels(sources, "cpu"):
        if mark is not None:
            mark.write_text(str(n))
        check_execution(group[n], kernel, cuda_kernels.get(n))
    return group


class Stalled(Exception):
    """The child made no progress for STALL_SECONDS; `index`: the kernel it was checking, if known."""

    def __init__(self, index: int | None):
        super().__init__(index)
        self.index = index


def execute_isolated(group: list[Report], gpu: bool) -> list[Report]:
    """`execute_group` in a child process; if it dies (a segfault), halve the group to the kernel at fault.

    A kernel that kills the process is a `crash` finding, and the fuzzer goes on.  A kernel
    whose checks run longer than STALL_SECONDS is killed with its process and labelled
    unsupported (no generated kernel should run that long: the grammar bounds its loops);
    the others are checked again.
    """
    try:
        return _in_child(group, gpu)
    except BrokenProcessPool:
        if len(group) == 1:
            group[0].failures.append(("crash", "the process died while checking the kernel (signal)"))
            return group
        return _halves(group, gpu)
    except Stalled as e:
        if e.index is None and len(group) > 1:  # stalled while loading
            return _halves(group, gpu)
        n = e.index or 0
        group[n].metadata["execution"] = f"unsupported: checks ran longer than {STALL_SECONDS} s"
        return [*execute_isolated(group[:n], gpu), group[n], *execute_isolated(group[n + 1 :], gpu)]


def _halves(group: list[Report], gpu: bool) -> list[Report]:
    mid = len(group) // 2
    return execute_isolated(group[:mid], gpu) + execute_isolated(group[mid:], gpu)


def _in_child(group: list[Report], gpu: bool) -> list[Report]:
    """`execute_group` in a fresh process, killed (raising `Stalled`) once it stops making progress."""
    if not group:
        return group
    with tempfile.TemporaryDirectory() as folder:
        mark = Path(folder) / "current"
        with ProcessPoolExecutor(
            1, mp_context=get_context("spawn"), initializer=warp_access.init_warp
        ) as pool:
            future = pool.submit(execute_group, group, gpu, mark)
            start = time.time()
            while True:
                try:
                    return future.result(timeout=1)
                except TimeoutError:
                    last = mark.stat().st_mtime if mark.exists() else start
                    if time.time() - last > STALL_SECONDS:
                        for process in pool._processes.values():  # no public kill before Python 3.14
                            process.kill()
                        raise Stalled(int(mark.read_text()) if mark.exists() else None) from None


def _check_compiles(reports: list[Report], device: str) -> None:
    """Lower every kernel (a codegen error is a compile failure too), compile the lowered in batches."""
    for begin in range(0, len(reports), COMPILE_BATCH):
        batch = reports[begin : begin + COMPILE_BATCH]
        lowered = []
        for report in batch:
            try:
                lowered.append((report, lower(report.source, report.kernel_name, device)))
            except Exception as e:  # Warp's codegen rejected it: a finding, not the end of the run
                report.failures.append(("compile", f"{device} codegen: {error_summary(e)}"))
        for n, message in failing([code for _, code in lowered], device).items():
            lowered[n][0].failures.append(("compile", f"{device}: {message}"))


def check_execution(report: Report, kernel: Any, cuda_kernel: Any = None) -> None:
    """Launch, determinism, gradient and (given a CUDA kernel) CPU/GPU checks on one loaded kernel."""
    if isinstance(kernel, LoadFailed):
        report.failures.append(("compile", str(kernel)))
        return
    try:
        params, inputs = execute.prepare(kernel, report.seed)
    except Unsupported as e:
        report.metadata["execution"] = f"unsupported: {e}"
        return
    report.params, report.inputs = params, inputs
    report.metadata["execution"] = "executed"
    try:
        cpu = execute.launch(kernel, params, inputs)
        same = execute.same_bytes(cpu, execute.launch(kernel, params, inputs))
        grad = check_gradient(kernel, params, inputs, report.source, report.kernel_name)
    except Exception as e:
        report.failures.append(("crash", f"{type(e).__name__}: {e}"))
        return
    report.metadata |= {"deterministic": same, "gradcheck": grad.as_dict()}
    if not same:
        report.failures.append(("nondeterministic", "two CPU launches differ"))
    if grad.status == "mismatch":
        report.failures.append(("gradient", json.dumps(grad.as_dict())))
    if cuda_kernel is not None:
        compare_devices(report, cuda_kernel, cpu)


def compare_devices(report: Report, other: Any, cpu: dict, device: str = "cuda") -> None:
    """Launch `other` (the kernel loaded for `device`) on the same inputs; compare under the policy."""
    if isinstance(other, LoadFailed):
        report.failures.append(("compile", f"{device}: {other}"))
        return
    assert report.inputs is not None
    gpu = execute.launch(other, report.params, report.inputs, device)
    again = execute.launch(other, report.params, report.inputs, device)
    threads = int(np.prod(report.inputs.shape)) * int(np.prod(report.inputs.tile))
    accumulators = {p.name for p in report.params if p.role == "accumulator"}
    differing = tolerance.mismatches(cpu, gpu, accumulators, threads)
    unstable = tolerance.run_to_run_differences(gpu, again, accumulators, threads)
    report.metadata["cpu_gpu"] = {"compared": True, "differing": differing, "unstable": unstable}
    if differing:
        report.failures.append(("cpu_gpu_mismatch", f"arrays {differing} differ beyond the tolerance"))
    if unstable:
        report.failures.append(("nondeterministic", f"{device}: arrays {unstable} differ between launches"))


def fails_like(kind: str, device: str, seed: int, gpu: bool) -> Callable[[DrawnKernel], bool]:
    """Whether a module on its own shows failure `kind` (the shrinking predicate)."""

    def fails(k: DrawnKernel) -> bool:
        report = Report(seed, k.kernel_name, "", k.source)
        try:
            if kind == "compile":
                _check_compiles([report], device)
            elif kind == "crash":  # only a crash needs a process of its own per try
                report = execute_isolated([report], gpu)[0]
            else:
                execute_group([report], gpu)
        except Exception:  # a drawn kernel that breaks the harness is not the failure being shrunk
            return False
        return any(found == kind for found, _ in report.failures)

    return fails


# ----------------------------------------------------------------------------- output


def _finding(r: Report, kind: str, message: str, gpu: bool, shrink: bool) -> Finding:
    from check.shrink import shrink_failure

    device = "cuda" if kind == "cpu_gpu_mismatch" or message.startswith("cuda:") else "cpu"
    finding = Finding(kind, device, r.kernel_name, r.source, message, r.seed, False, r.inputs, r.params)
    return shrink_failure(finding, fails_like(kind, device, r.seed, gpu)) if shrink else finding


def _summary(reports: list[Report], gpu: bool, seconds: float) -> dict[str, Any]:
    grads = Counter(r.metadata.get("gradcheck", {}).get("status", "not_run") for r in reports)
    outside = Counter(
        r.metadata["gradcheck"]["measured"] for r in reports if "measured" in r.metadata.get("gradcheck", {})
    )
    kinds = Counter(kind for r in reports for kind, _ in r.failures)
    execution = Counter(r.metadata.get("execution", "not_run").partition(":")[0] for r in reports)
    return {
        "kernels": len(reports),
        "execution": dict(sorted(execution.items())),
        "gpu": gpu,
        "gradcheck": dict(sorted(grads.items())),
        "outside_contract_measured": dict(sorted(outside.items())),
        "findings": sum(kinds.values()),
        "findings_by_kind": dict(sorted(kinds.items())),
        "deterministic": sum(bool(r.metadata.get("deterministic")) for r in reports),
        "seconds": round(seconds, 1),
    }


def _write_results(out: Path, reports: list[Report], summary: dict[str, Any]) -> None:
    with open(out / "results.jsonl", "w") as f:
        for r in reports:
            line = {"seed": r.seed, "kernel_name": r.kernel_name, "kernel_type": r.kernel_type}
            line |= {"failures": [k for k, _ in r.failures], "metadata": r.metadata}
            f.write(json.dumps(line, sort_keys=True) + "\n")
    (out / "fuzz.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
