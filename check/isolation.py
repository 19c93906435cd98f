"""A child process that may end badly: a kernel's death or stall named, so that it costs only itself.

The child (`check.runner`, run by `check.executor`) is a fresh Python in a process
group of its own: a Ctrl-C at the terminal reaches the fuzzer, which ends the child,
not the child (whose start-up, importing Warp, would otherwise print a
`KeyboardInterrupt` traceback).  On Linux it also ends with its parent
(`PR_SET_PDEATHSIG`), so a fuzzer killed with SIGKILL leaves no child checking on.
Parent and child talk through a folder: the job in, the results out, a mark naming
the phase and kernel under way, and the child's own output (where a failed
assertion is printed).

When the child dies, `Died` names the phase and kernel the mark names; when it makes
no progress for STALL_SECONDS, `Stalled`; `check.judge.execute_isolated` turns those
into the kernel's verdict and runs the others again.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from check.runner import MARK

#: Seconds a child may go without starting the next kernel's checks (loading the group's
#: merged module included) before it is killed.
STALL_SECONDS = 300

_MARK, _OUTPUT = MARK, "output.log"

#: Told the phase and kernel under way, about once a second (for progress displays).
Watch = Callable[[str, int | None], None]


class Stalled(Exception):
    """The child made no progress for STALL_SECONDS; `index`: the kernel it was checking, if known."""

    def __init__(self, index: int | None):
        super().__init__(index)
        self.index, self.seconds = index, STALL_SECONDS


class Died(Exception):
    """A signal ended the child while checking kernel `index` (None: loading) in `phase`."""

    def __init__(self, phase: str, index: int | None, how: str):
        super().__init__(how)
        self.phase, self.index, self.how = phase, index, how


class ChildFailed(Exception):
    """The child exited with an error, or died before checking anything: the harness is at fault."""


def run_child(command: list[str], folder: Path, watch: Watch | None, env: dict[str, str]) -> None:
    """Run `command` (which marks its progress in `folder`) to its end: `Stalled` once it stops making
    progress, `Died` if a signal ends it, `ChildFailed` if it exits with an error."""
    with open(folder / _OUTPUT, "wb") as output:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            env=env,
            process_group=0,  # out of the terminal's foreground group: Ctrl-C is the parent's
        )
    try:
        _wait(child, folder, watch)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _wait(child: subprocess.Popen, folder: Path, watch: Watch | None) -> None:
    start = time.time()
    while True:
        try:
            status = child.wait(timeout=1)
        except subprocess.TimeoutExpired:
            phase, index = _read_mark(folder)
            if watch is not None:
                watch(phase, index)
            mark = folder / _MARK
            if time.time() - (mark.stat().st_mtime if mark.exists() else start) > STALL_SECONDS:
                raise Stalled(index) from None
            continue
        if status == 0:
            return
        if status > 0 or not (folder / _MARK).exists():  # an error of ours, not a kernel's signal
            raise ChildFailed(f"the checking process failed ({_how(status, folder)})")
        phase, index = _read_mark(folder)
        raise Died(phase, index, _how(status, folder))


def _how(status: int, folder: Path) -> str:
    """How the child ended: the signal, or the exit status; and the last line it printed about it."""
    signals = {s.value: s.name for s in signal.Signals}
    how = signals.get(-status, f"signal {-status}") if status < 0 else f"exit status {status}"
    lines = (folder / _OUTPUT).read_text(errors="replace").strip().splitlines()
    said = [line for line in lines if line.startswith("Assertion failed")] or lines[-1:]
    return f"{how}: {said[-1].strip()[:300]}" if said else how


def _read_mark(folder: Path) -> tuple[str, int | None]:
    try:
        phase, index = (folder / _MARK).read_text().split()
    except (FileNotFoundError, ValueError):
        return "starting", None
    return phase, None if index == "-" else int(index)
