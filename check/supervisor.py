"""Worker processes that may die or hang without stopping the run: the one supervisor of the commands.

Each worker is a process (`python -m check.supervisor`) that takes one task at a time over a
pipe: a range of candidate indices (a chunk of the main job's, a group of the fuzzer's).  It
announces every step it starts (a heartbeat: "seed N", a compile check, the kernel a group's
checks are at).  A worker that dies (killed by the OS, a segfault in Warp's codegen, an
exception), or that spends longer than its allowance on one step (a lowering that never
ends), is killed and replaced by a fresh process.  Its task is retried once; if that fails
too, `result` raises `TaskFailed` and the caller skips the range, with the reason.  Tasks are
deterministic, so a retried task gives what a first attempt would have.

The work is any picklable function (`Work`), imported by the worker when it unpickles it, so
this module imports nothing of the commands that use it.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from typing import Any

from emit.lower import error_summary

#: Attempts per task: the first, and one retry in a fresh worker.
ATTEMPTS = 2
#: Seconds a new worker may take to start (spawn, import and initialise Warp) before its first step.
START_SECONDS = 120.0
#: Tasks given up in a row after which the workers are deemed unable to work at all.
GIVE_UP_AFTER = 4
#: Seconds between checks of the workers' allowances while waiting.
POLL_SECONDS = 0.5
#: Tasks a worker holds: the one it works on and the next, so it goes on while the parent writes.
HELD_PER_WORKER = 2

#: `beat(what, steps)`: a worker starts step `what`, which may take `steps` allowances.
Beat = Callable[[str, int], None]
#: `work(*args, lo, hi, beat)`: task `lo`..`hi`, calling `beat` before each step.
Work = Callable[..., Any]


class TaskFailed(Exception):
    """A task failed in two workers; the message says how."""


class WorkersFailing(Exception):
    """Task after task fails: the workers cannot work at all (the message gives the last failure)."""


@dataclass
class Task:
    lo: int
    hi: int
    attempts: int = 0
    done: bool = False
    value: Any = None
    error: str = ""


def serve(conn: Connection) -> None:
    """A worker's life: its work, then tasks in, heartbeats and results out, until the parent hangs up."""

    def beat(what: str, steps: int = 1) -> None:
        conn.send(("beat", (what, steps)))

    with contextlib.suppress(EOFError, OSError):  # the parent hung up or died: nothing left to do
        work, args = conn.recv()
        while True:
            lo, hi = conn.recv()
            try:
                value = work(*args, lo, hi, beat)
            except Exception as e:  # a bug in the work: reported as this task's failure; the worker ends
                conn.send(("error", error_summary(e)))
                return
            conn.send(("done", value))


class _Worker:
    def __init__(self, work: Work, args: tuple[Any, ...]):
        self.conn, child = Pipe()
        # In a process group of its own: a terminal's Ctrl-C reaches only the parent, which ends the
        # workers, so no worker is interrupted half-way through its imports or a kernel.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "check.supervisor", str(child.fileno())],
            pass_fds=[child.fileno()],
            process_group=0,
        )
        child.close()
        self.conn.send((work, args))
        self.tasks: deque[Task] = deque()  # in the order it works on them: the first is under way
        self.started = False  # has it begun a step (started up)?
        self.doing = "start-up"
        self.since = time.monotonic()
        self.allowance = 0.0

    def give(self, task: Task, step_limit: float) -> None:
        if not self.tasks:
            self.next_task(step_limit)
        self.tasks.append(task)
        self.conn.send((task.lo, task.hi))

    def next_task(self, step_limit: float) -> None:
        """The clock for the start of its next task (a new worker's start-up included)."""
        self.doing, self.since = "the start of a task", time.monotonic()
        self.allowance = step_limit + (0.0 if self.started else START_SECONDS)

    def beat(self, what: str, steps: int, step_limit: float) -> None:
        self.started, self.doing, self.since = True, what, time.monotonic()
        self.allowance = steps * step_limit

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.conn.close()


class Pool:
    """`size` workers running `work(*args, lo, hi, beat)`; `submit` a range, then `result` it."""

    def __init__(self, size: int, work: Work, args: tuple[Any, ...], step_limit: float):
        self.work, self.args, self.step_limit = work, args, step_limit
        self.queue: deque[Task] = deque()
        self.retries = 0  # tasks computed again after a worker failed on them
        self.failed_in_a_row = 0
        self.workers: list[_Worker] = []
        try:
            for _ in range(size):
                self.workers.append(self._start())
        except BaseException:  # Ctrl-C while starting them
            self.close()
            raise

    def _start(self) -> _Worker:
        try:
            return _Worker(self.work, self.args)
        except OSError as e:
            raise WorkersFailing(f"cannot start a worker process ({e.strerror or e})") from None

    def submit(self, lo: int, hi: int) -> Task:
        task = Task(lo, hi)
        self.queue.append(task)
        return task

    def result(self, task: Task) -> Any:
        """`task`'s value, serving every worker meanwhile; `TaskFailed` if two attempts failed."""
        while not task.done:
            self._dispatch()
            wait([w.conn for w in self.workers], POLL_SECONDS)  # a dead worker's pipe reads as closed
            for worker in list(self.workers):
                self._check(worker)
        if task.error:
            raise TaskFailed(task.error)
        return task.value

    def _dispatch(self) -> None:
        """Queued tasks to the workers: a first one each, then a second (the oldest are the most awaited)."""
        for held in range(1, HELD_PER_WORKER + 1):
            for worker in self.workers:
                if len(worker.tasks) < held and self.queue:
                    with contextlib.suppress(OSError):  # it died: _check retries the task
                        worker.give(self.queue.popleft(), self.step_limit)

    def _check(self, w: _Worker) -> None:
        """Take `w`'s messages; replace it if it died, failed or overran its allowance."""
        try:
            while w.conn.poll():
                kind, payload = w.conn.recv()
                if kind == "beat":
                    w.beat(*payload, self.step_limit)
                elif kind == "done":
                    task = w.tasks.popleft()
                    task.done, task.value = True, payload
                    self.failed_in_a_row = 0
                    if w.tasks:
                        w.next_task(self.step_limit)
                else:  # "error": the worker ends
                    self._lost(w, f"{payload} at {w.doing}")
                    return
        except (EOFError, OSError):  # the pipe closed: the worker has ended
            code = w.process.wait()
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
            self._lost(w, f"worker {how} at {w.doing}")
            return
        if w.process.poll() is not None:  # ended, its pipe not yet read as closed
            return
        if w.tasks and time.monotonic() - w.since > w.allowance:
            self._lost(w, f"worker made no progress for {w.allowance:g} s at {w.doing} (killed)")

    def _lost(self, w: _Worker, why: str) -> None:
        w.stop()
        self.workers[self.workers.index(w)] = self._start()
        if not w.tasks:
            return
        task, *waiting = w.tasks
        self.queue.extendleft(reversed(waiting))  # not begun: back to the head of the queue, in order
        task.attempts += 1
        if task.attempts < ATTEMPTS:
            self.retries += 1
            self.queue.appendleft(task)  # the oldest task: the in-order merge is likely waiting for it
            return
        task.done, task.error = True, why
        self.failed_in_a_row += 1
        if self.failed_in_a_row >= GIVE_UP_AFTER:
            raise WorkersFailing(f"workers failed on {self.failed_in_a_row} chunks in a row; last: {why}")

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()


if __name__ == "__main__":  # a worker: `python -m check.supervisor FD`, FD its end of the pipe
    serve(Connection(int(sys.argv[1])))
