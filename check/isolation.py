"""A group's checks in a child process, so a kernel that ends the process, or never ends, costs only itself.

The child (`child_main`) is a fresh Python in a process group of its own: a Ctrl-C at
the terminal reaches the fuzzer, which ends the child, not the child (whose start-up,
importing Warp, would otherwise print a `KeyboardInterrupt` traceback).  On Linux it
also ends with its parent (`PR_SET_PDEATHSIG`), so a fuzzer killed with SIGKILL leaves
no child checking on.  Parent and child talk through a folder: the group in, the
checked group out (pickles), a mark naming the phase and kernel under way, and the
child's own output (where a failed assertion is printed).

When the child dies, the mark names the kernel at fault: in the debug phase that is
a `generator_defect` (the grammar emitted undefined behaviour: an out-of-bounds
access, an integer division by zero), in the release phase a `crash` (Warp's).
The other kernels of the group are checked again in fresh children.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import warp_access
from check.harness import Failure, Report, execute_group
from check.runner import MARK, end_with_parent

#: Seconds a child may go without starting the next kernel's checks (loading the group's
#: merged module included) before it is killed.
STALL_SECONDS = 300

_GROUP, _RESULT, _MARK, _OUTPUT = "group.pickle", "result.pickle", MARK, "output.log"
#: The debug phase's kernel under way: its parameters and inputs (a generator defect's reproducer needs them).
_LAUNCH = "launch.pickle"
#: The child's command: `child_main(folder, parent pid)`.
_CHILD = "import sys; from check.isolation import child_main; child_main(sys.argv[1], int(sys.argv[2]))"

#: Told the phase and kernel under way, about once a second (for progress displays).
Watch = Callable[[str, int | None], None]


class Stalled(Exception):
    """The child made no progress for STALL_SECONDS; `index`: the kernel it was checking, if known."""

    def __init__(self, index: int | None):
        super().__init__(index)
        self.index = index


class Died(Exception):
    """A signal ended the child while checking kernel `index` (None: loading) in `phase`;
    `launch`: the kernel's (params, inputs) if it died launching the debug build."""

    def __init__(self, phase: str, index: int | None, how: str, launch: tuple | None = None):
        super().__init__(how)
        self.phase, self.index, self.how, self.launch = phase, index, how, launch


class ChildFailed(Exception):
    """The child exited with an error, or died before checking anything: the harness is at fault."""


#: Checks a group in a child process: `Died`, `Stalled` or `ChildFailed` when that ends badly.
Child = Callable[[list[Report], "Watch | None"], list[Report]]


def execute_isolated(
    group: list[Report],
    gpu: bool,
    watch: Watch | None = None,
    child: Child | None = None,
    versions: Sequence[str] = (),
) -> list[Report]:
    """`execute_group` in a child process (or `child`'s checks: another Warp's, `check.target`, whose
    `versions` the failures name); a kernel that ends it or stalls it is reported, the others are
    checked again.

    A death while loading (a compiler crash) is narrowed down by halving the group.  A kernel
    whose checks run longer than STALL_SECONDS is labelled unsupported (no generated kernel
    should run that long: the grammar bounds its loops).
    """
    check = child or (lambda g, w: _in_child(g, gpu, w))
    try:
        return check(group, watch)
    except Died as e:
        if e.index is None:  # while loading: a compiler's crash, narrowed down to one kernel
            if len(group) > 1:
                return _halves(group, gpu, watch, check, versions)
            message = f"the process died while loading the kernel ({e.how})"
            group[0].failures.append(Failure("crash", message, versions))
            return group
        n = e.index
        kind = "generator_defect" if e.phase == "debug" else "crash"
        message = f"{e.phase} build: the process died checking the kernel ({e.how})"
        group[n].failures.append(Failure(kind, message, versions))
        group[n].metadata["execution"] = f"{kind}: {e.phase} build"
        group[n].params, group[n].inputs = e.launch or (group[n].params, group[n].inputs)
    except Stalled as e:
        if e.index is None and len(group) > 1:  # stalled while loading
            return _halves(group, gpu, watch, check, versions)
        n = e.index or 0
        group[n].metadata["execution"] = f"unsupported: checks ran longer than {STALL_SECONDS} s"
    before = execute_isolated(group[:n], gpu, watch, check, versions)
    return [*before, group[n], *execute_isolated(group[n + 1 :], gpu, watch, check, versions)]


def _halves(
    group: list[Report], gpu: bool, watch: Watch | None, check: Child, versions: Sequence[str]
) -> list[Report]:
    mid = len(group) // 2
    return [
        *execute_isolated(group[:mid], gpu, watch, check, versions),
        *execute_isolated(group[mid:], gpu, watch, check, versions),
    ]


def _in_child(group: list[Report], gpu: bool, watch: Watch | None) -> list[Report]:
    """`execute_group` in a fresh process; `Stalled` once it stops making progress, `Died` if it dies."""
    if not group:
        return group
    with tempfile.TemporaryDirectory(prefix="synth_fuzz_") as name:
        folder = Path(name)
        (folder / _GROUP).write_bytes(pickle.dumps((group, gpu)))
        command = [sys.executable, "-c", _CHILD, str(folder), str(os.getpid())]
        run_child(command, folder, watch, _child_environment())
        return pickle.loads((folder / _RESULT).read_bytes())


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
        launch = folder / _LAUNCH
        kept = pickle.loads(launch.read_bytes()) if phase == "debug" and launch.exists() else None
        raise Died(phase, index, _how(status, folder), kept)


def _child_environment() -> dict[str, str]:
    """This environment, with the directory this package came from first on the path."""
    root = str(Path(__file__).resolve().parents[1])
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))


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


def child_main(folder: str, parent: int) -> None:
    """The child: check the group in `folder`, marking each phase and kernel, and write the result."""
    end_with_parent(parent)
    place = Path(folder)
    warp_access.init_warp()
    group, gpu = pickle.loads((place / _GROUP).read_bytes())

    def mark(phase: str, index: int | None, report: Report | None) -> None:
        if report is not None:
            (place / _LAUNCH).write_bytes(pickle.dumps((report.params, report.inputs)))
        (place / _MARK).write_text(f"{phase} {'-' if index is None else index}")

    checked = execute_group(group, gpu, mark)
    (place / (_RESULT + ".tmp")).write_bytes(pickle.dumps(checked))
    os.replace(place / (_RESULT + ".tmp"), place / _RESULT)
