"""Every check of a kernel, as the fuzzer runs them, and a `Report` of what they found.

Per kernel: Warp's code for it compiles (CPU clang, CUDA NVRTC: `check_compiles`);
a launch of a debug build (`check_debug`: array-bounds assertions, traps kept) does
not end the process; then, from a release build, it launches on CPU with inputs
drawn from its seed, two launches give the same bytes, its backward matches finite
differences, and, given a CUDA build, its GPU results match the CPU's under the
tolerance policy (`check_execution`).  `execute_group` runs them over a group of
kernels merged into one module per build; `check.isolation` runs that in a child
process, since a failed assertion or a trap ends the process that meets it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from check import execute, tolerance
from check.compile import failing
from check.execute import Inputs, LoadFailed, Param, Unsupported
from check.gradcheck import check_gradient, told_from_rounding
from emit.lower import error_summary, lower

#: Compile-check batch size (records' code, as in `--verify compile`).
COMPILE_BATCH = 16

#: Told which phase ("debug", "release") and which kernel of the group (None: loading) is being
#: checked; in the debug phase also its report, with the launch's inputs (see `check.isolation`).
Mark = Callable[[str, int | None, "Report | None"], None]


class Failure(tuple):
    """A check's failure: its kind and message, and the Warp versions it was seen in (empty: the pinned
    one, in this environment).  Unpacks and compares as its (kind, message) pair."""

    versions: tuple[str, ...]

    def __new__(cls, kind: str, message: str, versions: Sequence[str] = ()) -> Failure:
        failure = super().__new__(cls, (kind, message))
        failure.versions = tuple(versions)
        return failure

    def __getnewargs__(self) -> tuple[str, str, tuple[str, ...]]:
        return self[0], self[1], self.versions

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def message(self) -> str:
        return self[1]


@dataclass
class Report:
    """What the checks found for one kernel; `metadata` goes into the fuzzer's results."""

    seed: int
    kernel_name: str
    kernel_type: str
    source: str
    failures: list[Failure] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    params: Sequence[Param] = ()
    inputs: Inputs | None = None
    run: dict[str, Any] = field(default_factory=dict)  # what another installation measured (check.target)


#: What Warp raises at run time for a feature the target device lacks ("Only CUDA devices are supported
#: for allocate_by_tiles": a volume allocated on a CPU, in Warp 1.10): `unsupported_by_target`, not a crash.
RUNTIME_UNSUPPORTED = (
    r"[Oo]nly CUDA devices are supported",
    r"[Nn]ot supported on (the )?CPU",
    r"[Rr]equires a CUDA (device|GPU)",
)


def unsupported_at_run_time(message: str) -> bool:
    """Whether a launch's error says the device lacks the feature (`RUNTIME_UNSUPPORTED`)."""
    return any(re.search(pattern, message) for pattern in RUNTIME_UNSUPPORTED)


def check_compiles(reports: list[Report], device: str) -> None:
    """Lower every kernel (a codegen error is a compile failure too), compile the lowered in batches."""
    for begin in range(0, len(reports), COMPILE_BATCH):
        batch = reports[begin : begin + COMPILE_BATCH]
        lowered = []
        for report in batch:
            try:
                lowered.append((report, lower(report.source, report.kernel_name, device)))
            except Exception as e:  # Warp's codegen rejected it: a finding, not the end of the run
                report.failures.append(Failure("compile", f"{device} codegen: {error_summary(e)}"))
        for n, message in failing([code for _, code in lowered], device).items():
            lowered[n][0].failures.append(Failure("compile", f"{device}: {message}"))


def execute_group(
    group: list[Report], gpu: bool, mark: Mark | None = None, debug: bool = True
) -> list[Report]:
    """Load the group's kernels (merged, per build) and run the debug (unless not `debug`: a process
    that must survive them), then the release checks on each.

    `mark` hears each phase and kernel before it starts (see `check.isolation`).
    """
    mark = mark or (lambda phase, index, report: None)
    sources = [(r.source, r.kernel_name) for r in group]
    # the mark's index is None between kernels: a merged module that fails to build is split and its
    # halves are built lazily as the loop goes on, so a death there is the loading's, not a kernel's
    mark("debug", None, None)
    for n, kernel in execute.load_kernels(sources, "cpu", mode="debug") if debug else ():
        check_debug(group[n], kernel, lambda report, n=n: mark("debug", n, report))
        mark("debug", None, None)
    mark("release", None, None)
    cuda_kernels = dict(execute.load_kernels(sources, "cuda")) if gpu else {}
    for n, kernel in execute.load_kernels(sources, "cpu"):
        mark("release", n, None)
        check_execution(group[n], kernel, cuda_kernels.get(n))
        mark("release", None, None)
    return group


def check_debug(report: Report, kernel: Any, starting: Callable[[Report], None]) -> None:
    """One CPU launch of the kernel's debug build: a failed bounds assertion or a trap (an integer
    division by zero) ends the process here, and `check.isolation` reports a `generator_defect`.
    `starting` hears the report, inputs drawn, just before the launch.

    Kernels the debug build cannot load, or the executor cannot launch, are left to the release
    checks, which report and label them.
    """
    if isinstance(kernel, LoadFailed):
        return
    try:
        report.params, report.inputs = execute.prepare(kernel, report.seed)
    except Unsupported:
        return
    starting(report)
    try:
        execute.launch(kernel, report.params, report.inputs)
    except Exception:  # a Python-side error: the release launch raises it too, a `crash` finding
        return
    report.metadata["debug"] = "passed"


def check_execution(report: Report, kernel: Any, cuda_kernel: Any = None) -> None:
    """Launch, determinism, gradient and (given a CUDA kernel) CPU/GPU checks on one loaded kernel."""
    if isinstance(kernel, LoadFailed):
        report.failures.append(Failure("compile", str(kernel)))
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
        if grad.status == "mismatch":  # a finding only if confirmed (`gradcheck.confirmed`)
            grad = told_from_rounding(kernel, params, inputs, report.source, report.kernel_name, grad)
    except Exception as e:
        said = f"{type(e).__name__}: {e}"
        if unsupported_at_run_time(said):
            report.metadata["execution"] = f"unsupported_by_target: {said}"
        else:
            report.failures.append(Failure("crash", said))
        return
    report.metadata |= {"deterministic": same, "gradcheck": grad.as_dict()}
    if not same:
        report.failures.append(Failure("nondeterministic", "two CPU launches differ"))
    if grad.status == "mismatch":
        report.failures.append(Failure("gradient", json.dumps(grad.as_dict())))
    if cuda_kernel is not None:
        compare_devices(report, cuda_kernel, cpu)


def compare_devices(report: Report, other: Any, cpu: dict, device: str = "cuda") -> None:
    """Launch `other` (the kernel loaded for `device`) on the same inputs; compare under the policy."""
    if isinstance(other, LoadFailed):
        report.failures.append(Failure("compile", f"{device}: {other}"))
        return
    assert report.inputs is not None
    gpu = execute.launch(other, report.params, report.inputs, device)
    again = execute.launch(other, report.params, report.inputs, device)
    threads = report.inputs.threads
    accumulators = {p.name for p in execute.leaves(report.params) if p.role == "accumulator"}
    differing = tolerance.mismatches(cpu, gpu, accumulators, threads)
    unstable = tolerance.run_to_run_differences(gpu, again, accumulators, threads)
    report.metadata["cpu_gpu"] = {"compared": True, "differing": differing, "unstable": unstable}
    if differing:
        report.failures.append(Failure("cpu_gpu_mismatch", f"arrays {differing} differ beyond the tolerance"))
    if unstable:
        message = f"{device}: arrays {unstable} differ between launches"
        report.failures.append(Failure("nondeterministic", message))
