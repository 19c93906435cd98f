"""A kernel's `Report` of what the checks found, its `Failure`s, and the first check: it compiles.

Per kernel: Warp's code for it compiles (CPU clang, CUDA NVRTC: `check_compiles`,
in this process: a compile check cannot end it).  Everything else runs the kernel,
through the one executor (`check.executor`), and is judged by `check.judge`: a
launch of a debug build (array-bounds assertions, traps kept) does not end the
process; then, from a release build, it launches with inputs drawn from its seed,
two launches give the same bytes, its backward matches finite differences, and,
given a CUDA device, its GPU results match the CPU's under the tolerance policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from check.compile import failing
from check.execute import Inputs, Param
from check.executor import Execution
from emit.lower import Kernel, error_summary

#: Compile-check batch size (records' code, as in `--verify compile`).
COMPILE_BATCH = 16


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


#: What became of a kernel's run: one row per status, as results.jsonl's `metadata.execution` says it
#: (`kind`, or `kind: reason`).
STATUSES = {
    "executed": "it ran; the checks' verdicts are in the rest of the metadata",
    "build_failed": "another installation's build of it failed (a compile finding of that version)",
    "unsupported": "outside the launch contract, or its checks ran too long (a label, never a finding)",
    "unsupported_by_target": "the target's Warp lacks a construct or a device feature (Warp's line)",
    "generator_defect": "the process died in the debug build (`kind: <build> build`)",
    "undefined_behaviour": "a user's kernel died in the debug build (`synth check`)",
    "crash": "the process died in the release build",
    "worker_failed": "its group's worker failed twice (`--workers` > 1): unchecked",
}


@dataclass(frozen=True)
class Status:
    """What became of a kernel's run (`STATUSES`), and why."""

    kind: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STATUSES:
            raise ValueError(f"unknown execution status {self.kind!r}")

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}" if self.reason else self.kind

    @classmethod
    def parse(cls, text: str) -> Status:
        """The status results.jsonl spells `text` (its JSON edge)."""
        kind, _, reason = text.partition(": ")
        return cls(kind, reason)


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
    run: Execution | None = None  # what the executor measured (`check.judge` judges it)
    against: Execution | None = None  # the other installation's, where a differential compared them
    float64: Mapping[str, np.ndarray] | None = None  # the float64 twins' arrays, where they agreed

    @property
    def status(self) -> Status | None:
        """What became of its run (None: not run, or not yet); kept as `metadata.execution`."""
        said = self.metadata.get("execution")
        return None if said is None else Status.parse(said)

    @status.setter
    def status(self, status: Status) -> None:
        self.metadata["execution"] = str(status)

    @cached_property
    def kernel(self) -> Kernel:
        """The kernel checked (parsed and lowered once per device, whichever check asks)."""
        return Kernel(self.source, self.kernel_name)


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
                lowered.append((report, report.kernel.code(device)))
            except Exception as e:  # Warp's codegen rejected it: a finding, not the end of the run
                report.failures.append(Failure("compile", f"{device} codegen: {error_summary(e)}"))
        for n, message in failing([code for _, code in lowered], device).items():
            lowered[n][0].failures.append(Failure("compile", f"{device}: {message}"))
