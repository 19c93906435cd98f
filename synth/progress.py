"""Progress: a rich bar on a terminal, plain log lines otherwise; the lines that end a run.

Everything goes to stderr through one rich console, and the bar is stopped
before the summary is printed, so the summary never lands on the bar's line.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from emit.writer import Progress

#: Seconds between plain log lines.
LOG_EVERY = 10.0


class Reporter:
    """Shows records, MB, records/s, percentage and ETA while a run goes on; says how it ended."""

    def __init__(self, target_bytes: int | None, count: int | None, stream: TextIO | None = None):
        self.console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True)
        self.count = count
        self.total = count if count is not None else target_bytes
        self.start = Progress(run={})  # what the dataset held when this run began
        self._bar: Any = None
        self._last_log = 0.0

    def __enter__(self) -> Reporter:
        if self.console.is_terminal:
            from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("[bold]synth"),
                BarColumn(bar_width=20),
                TaskProgressColumn(),
                TextColumn("{task.fields[info]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task("synth", total=self.total, info="starting")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def say(self, line: str) -> None:
        self.console.print(f"synth: {line}", markup=False)

    def _info(self, p: Progress, seconds: float) -> str:
        """The dataset's totals, and this run's rate (`seconds`: this run's so far)."""
        new = p.records - self.start.records
        rate = new / seconds if seconds > 0 else 0.0
        return f"{p.records} records, {p.bytes / 1e6:.1f} MB, {rate:.1f} rec/s"

    def update(self, p: Progress, seconds: float) -> None:
        """After each checkpoint; `seconds`: this run's time so far."""
        done = p.records if self.count is not None else p.bytes
        if self._bar is not None:
            self._bar.update(self._task, completed=done, info=self._info(p, seconds))
            return
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY:
            self._last_log = now
            share = f" ({100 * done / self.total:.1f}%)" if self.total else ""
            self.say(f"{self._info(p, seconds)}{share}")

    def nothing_to_do(self, p: Progress, out: Path) -> str:
        """Why a run whose target was already met generated nothing."""
        held = f"{p.records} records ({p.bytes / 1e6:.2f} MB)"
        if self.count is None:
            return f"nothing to do: {out} already holds {held}, at least the target of {self.total} bytes"
        if p.records == self.count:
            return f"nothing to do: {out} already holds the {held} asked for"
        return (
            f"nothing to do: {out} already holds {held}, more than the {self.count} asked for; "
            "a dataset is never cut back (use --fresh for a smaller one)"
        )

    def finish(self, stats: dict[str, Any], out: Path, seconds: float) -> None:
        """The run's summary (after the bar has stopped); `seconds`: this run's generation time.

        A resumed run says the dataset's totals and, apart, what this run added at what rate
        (stats.json's `seconds` and rates are over every run that wrote the dataset)."""
        new, added = stats["records"] - self.start.records, stats["bytes"] - self.start.bytes
        rate = f"{new / seconds:.2f}" if seconds > 0 else "-"
        if self.start.records:
            self.say(
                f"{stats['records']} records, {stats['bytes'] / 1e6:.2f} MB -> {out}; this run: {new} new "
                f"(resumed at {self.start.records}), {added / 1e6:.2f} MB in {seconds:.1f} s "
                f"({rate} records/s)"
            )
        else:
            self.say(
                f"{stats['records']} records, {stats['bytes'] / 1e6:.2f} MB in {seconds:.1f} s "
                f"({rate} records/s) -> {out}"
            )
        if stats["verified"]:
            failed = stats["compile_failed"]
            findings = out / "findings"
            see = f" (see {findings})" if failed and findings.is_dir() else ""
            self.say(
                f"verified (compiled): {stats['verified_records_per_s']} records/s, "
                f"{failed} failed to compile{see}"
            )
        if stats["chunks_retried"]:
            self.say(f"chunks computed again after their worker died or hung: {stats['chunks_retried']}")
        lost = sum(hi - lo for lo, hi in (f["candidates"] for f in stats["worker_failures"]))
        if lost:
            self.say(
                f"warning: {lost} candidates skipped after their workers failed twice; "
                f"their seed ranges are in {out / 'stats.json'} (worker_failures)"
            )
