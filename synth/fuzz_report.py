"""What the fuzzer shows: a rich progress bar on a terminal, log lines otherwise, and a summary table."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table

from check.fuzz.results import EXIT_CODES

#: The window rich estimates the speed over: longer than any run.
RUN_SECONDS = 7 * 24 * 3600.0
#: The phase text takes the width left and is cut with an ellipsis, never wrapped onto a second line.
INFO_COLUMN = Column(ratio=1, no_wrap=True, overflow="ellipsis")


class FuzzProgress:
    """Kernels checked of `total`, new and known findings, and what is under way.

    On a terminal: a bar with a percentage, counts, the phase (which build, which
    kernel of the group) and a labelled ETA.  Otherwise: a line at the start, one per
    group, and one when findings are being shrunk (which can take minutes).
    """

    def __init__(self, total: int, done: int, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        self.total, self.done = total, done
        self.group_start = done
        self._bar: Any = None
        self._started = time.monotonic()

    def __enter__(self) -> FuzzProgress:
        if self.stream.isatty():
            self._bar = Progress(
                TextColumn("[bold]synth fuzz"),
                BarColumn(bar_width=20),
                TaskProgressColumn(),
                MofNCompleteColumn(),
                # the phase text gives way (an ellipsis) rather than push the line past the terminal
                TextColumn("{task.fields[info]}", table_column=INFO_COLUMN),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                expand=True,
                # a group of kernels can take minutes: estimate the speed over the whole run, not
                # rich's last 30 s (in which no group ended, so the ETA stayed unknown)
                speed_estimate_period=RUN_SECONDS,
            )
            self._bar.start()
            self._task = self._bar.add_task("fuzz", total=self.total, completed=self.done, info="starting")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start(self, text: str) -> None:
        """The first line of a run (a log line; on a terminal the bar's first state)."""
        self._log(text) if self._bar is None else self._bar.update(self._task, info=text)

    def watch(self, phase: str, index: int | None) -> None:
        """The phase and kernel of the group under way (the bar only: log lines would flood)."""
        if self._bar is not None and index is None:
            self._bar.update(self._task, info=f"{phase} build, loading")
        elif self._bar is not None:
            self._bar.update(self._task, completed=self.group_start + index, info=f"{phase} build")

    def status(self, text: str) -> None:
        self._log(text) if self._bar is None else self._bar.update(self._task, info=text)

    def group_done(self, done: int, counters: dict[str, int]) -> None:
        self.done = self.group_start = done
        found = f"{counters.get('new', 0)} new, {counters.get('known', 0)} known finding(s)"
        defects = counters.get("generator_defect", 0)
        found += f", {defects} generator defect(s)" if defects else ""
        if self._bar is not None:
            self._bar.update(self._task, completed=done, info=found)
        else:
            seconds = time.monotonic() - self._started
            self._log(f"{done}/{self.total} kernels checked, {found} ({seconds:.0f} s)")

    def _log(self, text: str) -> None:
        print(f"synth fuzz: {text}", file=self.stream, flush=True)


def summary_table(summary: dict[str, Any], device: str, out: str) -> Table:
    """fuzz.json as a table for people."""
    n = summary["kernels"]
    table = Table(title=f"synth fuzz: {n} kernels in {summary['seconds']} s -> {out}", show_header=False)
    table.add_column("check", style="bold")
    table.add_column("outcome")
    table.add_row("Warp", ", ".join(f"{role} {version}" for role, version in summary.get("warp", {}).items()))
    table.add_row("execution", _counts(summary["execution"]))
    if "against_execution" in summary:
        table.add_row("execution (against)", _counts(summary["against_execution"]))
        table.add_row("compared", f"{summary['compared']} of {n} ran under both installations")
    table.add_row("debug build (CPU)", f"{summary['debug_passed']} of {n} ran without assertion or signal")
    table.add_row("determinism (CPU)", f"{summary['deterministic']} of {n} gave identical bytes twice")
    table.add_row("gradient checks", _counts(summary["gradcheck"]))
    share = f"{summary['gradcheck_nontrivial']} of {n} ({100 * summary['gradcheck_nontrivial_share']:.1f}%)"
    table.add_row("non-trivial gradients", f"{share} compared a non-zero derivative")
    table.add_row("CPU/GPU", _cpu_gpu(summary, device))
    new = summary["new_findings"]
    distinct = f" ({summary.get('distinct_findings', 0)} distinct) -> {out}/findings/SUMMARY.md"
    table.add_row("new findings", f"{_counts(new)}{distinct}" if new else "none")
    known = summary["known_findings"]
    table.add_row("known findings", ", ".join(f"known: {k} x{v}" for k, v in known.items()) or "none")
    defects = summary["generator_defects"]
    table.add_row("generator defects", f"{defects} -> {out}/findings" if defects else "none")
    status = summary["exit_status"]
    table.add_row("exit status", f"{status}: {EXIT_CODES[status]}")
    return table


def print_summary(summary: dict[str, Any], device: str, out: str, stream: IO[str] | None = None) -> None:
    Console(file=stream or sys.stderr).print(summary_table(summary, device, out))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()) or "none"


def _cpu_gpu(summary: dict[str, Any], device: str) -> str:
    if device == "cpu":
        return "not compared (--device cpu)"
    if not summary["gpu"]:
        return "not compared (no CUDA GPU)"
    return f"{summary['cpu_gpu_compared']} of {summary['kernels']} compared"
