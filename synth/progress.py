"""Progress: a rich bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from emit.writer import Progress

#: Seconds between plain log lines.
LOG_EVERY = 10.0


class Reporter:
    """Shows records, MB, records/s and ETA while a run goes on."""

    def __init__(self, target_bytes: int | None, count: int | None, stream=None):
        self.stream = stream or sys.stderr
        self.total = count if count is not None else target_bytes
        self.by_bytes = count is None
        self._bar = None
        self._last_log = 0.0

    def __enter__(self) -> Reporter:
        if self.stream.isatty():
            from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("[bold]synth"),
                BarColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("synth", total=self.total, info="starting")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _info(self, p: Progress, seconds: float) -> str:
        rate = p.records / seconds if seconds > 0 else 0.0
        return f"{p.records} records, {p.bytes / 1e6:.1f} MB, {rate:.1f} records/s"

    def update(self, p: Progress, seconds: float) -> None:
        done = p.bytes if self.by_bytes else p.records
        if self._bar is not None:
            self._bar.update(self._task, completed=done, info=self._info(p, seconds))
            return
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY:
            self._last_log = now
            share = f" ({100 * done / self.total:.1f}%)" if self.total else ""
            print(f"synth: {self._info(p, seconds)}{share}", file=self.stream, flush=True)

    def finish(self, stats: dict[str, Any], out: Path) -> None:
        line = (
            f"synth: {stats['records']} records, {stats['bytes'] / 1e6:.2f} MB in {stats['seconds']:.1f} s "
            f"({stats['records_per_s']} records/s) -> {out}"
        )
        if stats.get("verified"):
            line += (
                f"\nsynth: verified (compiled): {stats['verified_records_per_s']} records/s, "
                f"{stats['compile_failed']} failed to compile (see {out}/findings)"
            )
        print(line, file=self.stream, flush=True)
