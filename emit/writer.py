"""The dataset on disk: append-only JSONL with an atomic checkpoint per batch.

`dataset.jsonl` only grows by whole batches.  After each batch is written and
fsynced, `progress.json` is replaced atomically (write, fsync, rename) with the
byte length of the dataset and the next candidate index.  A run killed at any
moment (SIGKILL included) restarts from the last checkpoint: bytes after the
recorded length, a partly written batch, are cut off, and generation resumes
at the recorded index.  Nothing is lost that was checkpointed and nothing is
written twice.

One run at a time: a run holds an exclusive `flock` on `out/.lock` (naming its
pid) for as long as it lives; the OS drops it when the process dies, so a
killed run never leaves a stale lock.  A write that fails (full disk, quota,
permissions, a read-only file system, `out` deleted or replaced) cuts the
dataset back to the last checkpoint and raises `OutputError`, one line saying
what is checkpointed and what to do.  A damaged checkpoint or a dataset cut
short below it is repaired where the records allow (`DatasetWriter.notes`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from emit.records import candidate_of

DATASET = "dataset.jsonl"
PROGRESS = "progress.json"
STATS = "stats.json"
CARD = "README.md"  # the dataset card (`synth.card`)
FINDINGS_DIR = "findings"  # reproducers of what failed (`check.findings`)
LOCK = ".lock"
#: Says which warp-synth output a directory holds: only such a directory (or an empty one) is written.
MARKER = ".warp-synth"


class DatasetMismatch(Exception):
    """`--out` holds something this run cannot continue: other arguments, or damage beyond repair."""


class UnusableOutput(Exception):
    """`--out` cannot be made, locked or written to at all."""


class OutputError(Exception):
    """Writing `--out` failed during the run; the message says what is checkpointed and what to do."""


class OutputBusy(OutputError):
    """Another run holds `--out`."""


#: errno -> (what happened, what to do).  The checkpoint is consistent in every case.
RESOURCE_ERRORS = {
    errno.ENOSPC: ("no space left on device", "free space and run the same command to resume"),
    errno.EDQUOT: ("disk quota exceeded", "free space and run the same command to resume"),
    errno.EFBIG: ("file size limit exceeded", "raise it (ulimit -f) and run the same command to resume"),
    errno.EACCES: ("permission denied", "make it writable and run the same command to resume"),
    errno.EPERM: ("operation not permitted", "make it writable and run the same command to resume"),
    errno.EROFS: ("read-only file system", "make it writable and run the same command to resume"),
}


@dataclass
class Progress:
    """What is durably on disk, and where generation goes on."""

    run: dict[str, Any]  # the arguments that define the dataset's content
    next_index: int = 0  # next candidate index to generate
    bytes: int = 0  # length of dataset.jsonl covered by this checkpoint
    records: int = 0
    counters: dict[str, int] = field(default_factory=dict)  # skipped, duplicates, failures ...
    per_type: dict[str, int] = field(default_factory=dict)
    builtins: dict[str, int] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)  # Warp types spelled in records
    seconds: float = 0.0  # generation time over all sessions of this run
    # candidate ranges given up after a worker died or hung on them twice: {"candidates": [lo, hi], "error"}
    failures: list[dict[str, Any]] = field(default_factory=list)
    retried: int = 0  # chunks computed again after a worker died or hung

    def add_record(self, kernel_type: str, builtins: Iterable[str], types: Iterable[str], size: int) -> None:
        self.bytes += size
        self.records += 1
        self.per_type[kernel_type] = self.per_type.get(kernel_type, 0) + 1
        for name in builtins:
            self.builtins[name] = self.builtins.get(name, 0) + 1
        for name in types:
            self.types[name] = self.types.get(name, 0) + 1

    @classmethod
    def from_json(cls, text: str) -> Progress:
        """A checkpoint read back; `ValueError` says what is wrong with it."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        defaults = asdict(cls(run={}))
        unknown = sorted(data.keys() - defaults.keys())
        if unknown or "run" not in data:
            raise ValueError(f"unexpected field {unknown[0]!r}" if unknown else "no field 'run'")
        for name, value in data.items():
            expected = type(defaults[name])
            if not isinstance(value, (int, float) if expected is float else expected):
                raise ValueError(f"field {name!r} is a {type(value).__name__}, not a {expected.__name__}")
        return cls(**data)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a partial checkpoint must not linger (the old one stands)
        raise


def _write_all(fd: int, data: bytes) -> None:
    """`os.write` until all of `data` is written (a write near a full disk can be short)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _left_by_a_run(name: str) -> bool:
    """A name a run may leave in a directory it never wrote content to: its lock, a write cut short."""
    return name == LOCK or name.endswith(".tmp")


def marked_kind(out: Path) -> str | None:
    """The kind of warp-synth output `out`'s marker names, if it has one."""
    try:
        return json.loads((out / MARKER).read_text())["kind"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def claim_output(out: Path, kind: str, legacy: Callable[[Path], bool] = lambda out: False) -> None:
    """Refuse `out` (`UnusableOutput`) unless it is new, empty, or holds warp-synth output of `kind`:
    its marker says so, or (output written before markers) `legacy(out)` recognises it.

    Nothing is written: a refused command leaves the directory as it was."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UnusableOutput(f"--out {out}: not a directory")
    try:
        names = sorted(n for n in os.listdir(out) if not _left_by_a_run(n))
    except OSError as e:
        raise UnusableOutput(f"--out {out}: cannot read it ({e.strerror or e})") from None
    if not names:
        return
    marked = marked_kind(out)
    if marked == kind or (marked is None and legacy(out)):
        return
    if marked is not None:
        raise UnusableOutput(f"--out {out} holds {marked} of warp-synth's, not {kind}; use another --out")
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    raise UnusableOutput(
        f"--out {out} holds files that are not warp-synth's ({shown}); "
        "nothing was written: use a new or empty directory"
    )


def mark_output(out: Path, kind: str) -> None:
    """Say in `out` that it holds warp-synth output of `kind` (`claim_output` reads it)."""
    if marked_kind(out) != kind:
        _write_atomic(out / MARKER, json.dumps({"kind": kind, "by": "warp-synth"}) + "\n")


def _missing_ancestors(out: Path) -> list[Path]:
    """`out` and the parents of it that do not exist yet, innermost first (what `mkdir` would make)."""
    missing = []
    for path in (out, *out.parents):
        if path.exists():
            break
        missing.append(path)
    return missing


def _leave_as_found(out: Path, made: list[Path], had_lock: bool) -> None:
    """A refused run takes back what it made: its lock file, the directories it created."""
    if not had_lock:
        with contextlib.suppress(OSError):
            (out / LOCK).unlink()
    for path in made:
        with contextlib.suppress(OSError):
            path.rmdir()


def probe_writable(out: Path) -> None:
    """`out` exists (made if need be) and takes new files, or an `OSError`."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=out):
        pass


def lock_output(out: Path) -> int:
    """Take `out`'s lock, held until the descriptor returned is closed or the process ends."""
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise OutputBusy(
            f"{out} is in use by another run (pid {holder}); wait for it to end, or use another --out"
        ) from None
    with contextlib.suppress(OSError):  # the pid is for people; a full disk must not stop the lock
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def lock_holder(out: Path) -> str | None:
    """The pid of the run that holds `out`'s lock now, if one does (a reader's test: nothing is made)."""
    try:
        fd = os.open(out / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # never locked, or unreadable: no run can be told apart
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)  # releases the lock if it was taken
    return None


def _whole_line(line: bytes) -> dict[str, Any] | None:
    """The JSON object on `line`, if it is whole (ends the line, parses), else None."""
    if not line.endswith(b"\n"):
        return None
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class DatasetWriter:
    """Appends record batches to `out/dataset.jsonl`, checkpointing after each."""

    #: The appended file, the stats file, and what messages call the content (a subclass with
    #: other names checkpoints other JSONL the same way: `check.fuzz.results`; it says how its
    #: lines count, `_recount`).
    DATA_FILE, STATS_FILE, CONTENT = DATASET, STATS, "a dataset"
    #: What a run writes into `--out` besides its lock and marker: all that `--fresh` removes.
    OWNED: tuple[str, ...] = (DATASET, PROGRESS, STATS, CARD, FINDINGS_DIR)

    def __init__(self, out: Path, run: dict[str, Any], fresh: bool = False):
        self.out = out
        self.dataset = out / self.DATA_FILE
        self.progress_path = out / PROGRESS
        self.notes: list[str] = []  # repairs made on opening, one line each, for the user
        self.sources: set[str] = set()  # source and AST-shape hashes of the records written (dedup)
        self.shapes: set[str] = set()
        self.progress = Progress(run=run)
        claim_output(out, self.CONTENT, self._written_before_markers)
        made = _missing_ancestors(out)
        had_lock = (out / LOCK).exists()
        try:
            out.mkdir(parents=True, exist_ok=True)
            self._lock = lock_output(out)  # first: a second run on `out` writes nothing at all
            probe_writable(out)
        except OSError as e:
            _leave_as_found(out, made, had_lock)
            raise UnusableOutput(f"--out {out}: not a writable directory ({e.strerror or e})") from None
        try:
            self._open(run, fresh)
        except DatasetMismatch:
            os.close(self._lock)
            _leave_as_found(out, made, had_lock)
            raise
        except OSError as e:
            raise self.fault(e) from None

    def _open(self, run: dict[str, Any], fresh: bool) -> None:
        self._where = os.stat(self.out)
        if fresh:
            self._remove_owned()
        damage = self._load(run)
        self._scan(damage)
        self._truncate_to_checkpoint()
        self._fd = os.open(self.dataset, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        mark_output(self.out, self.CONTENT)

    def _written_before_markers(self, out: Path) -> bool:
        """Output of this kind from before markers: its data file beside a checkpoint of ours."""
        try:
            Progress.from_json((out / PROGRESS).read_text())
        except (OSError, ValueError, TypeError):
            return False
        return (out / self.DATA_FILE).is_file()

    def _remove_owned(self) -> None:
        """`--fresh`: remove what a run writes (`OWNED`), nothing else; one note says what went."""
        removed = []
        for name in self.OWNED:
            path = self.out / name
            if path.is_dir() and not path.is_symlink():
                removed.append(f"{name}/ ({sum(1 for _ in path.rglob('*'))} files)")
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                size = path.stat().st_size if name == self.DATA_FILE else 0
                removed.append(f"{name} ({size / 1e6:.2f} MB)" if size else name)
                path.unlink()
        if removed:
            self.notes.append(f"--fresh: removed {', '.join(removed)} from {self.out}")

    def _load(self, run: dict[str, Any]) -> str:
        """Read the checkpoint into `self.progress`; returns what is wrong with it if it is damaged."""
        if not self.progress_path.exists():
            if self.dataset.exists() and self.dataset.stat().st_size > 0:
                raise DatasetMismatch(
                    f"{self.dataset} exists without {PROGRESS}; use another --out "
                    "(or --fresh, which deletes it)"
                )
            return ""
        try:
            progress = Progress.from_json(self.progress_path.read_text(errors="replace"))
        except ValueError as e:  # JSONDecodeError included
            # rebuilt from the dataset's records (if they are this run's) in _scan
            size = self.dataset.stat().st_size if self.dataset.exists() else 0
            self.progress = Progress(run=run, bytes=size)
            return f"{self.progress_path} is damaged ({str(e).splitlines()[0]})"
        if progress.run != run:
            if not (progress.records or progress.counters.get("compile_failed")):
                self.notes.append(f"{self.out} held no records of other arguments: starting afresh")
                return ""
            differing = sorted(
                k for k in run.keys() | progress.run.keys() if run.get(k) != progress.run.get(k)
            )
            raise DatasetMismatch(
                f"{self.out} holds {self.CONTENT} made with other {', '.join(differing)}; use another "
                f"--out (or --fresh, which deletes its {progress.records} records)"
            )
        self.progress = progress
        return ""

    def _scan(self, damage: str) -> None:
        """Read the checkpointed records (their hashes, for dedup); repair what disagrees with the checkpoint.

        A dataset shorter than its checkpoint, or holding a line that is no whole
        record of this run, is cut back to its last whole record and the checkpoint
        rewound to agree with it; a damaged checkpoint is rebuilt from the records.
        """
        claimed = self.progress
        if not (claimed.bytes or damage):
            return
        tally = Progress(run=claimed.run, seconds=claimed.seconds, retried=claimed.retried)
        try:
            with open(self.dataset, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                bad_line = self._read(f, tally)
        except FileNotFoundError:
            size, bad_line = 0, 0
        if size < claimed.bytes:
            problem = f"{self.dataset} is shorter than its checkpoint ({size} of {claimed.bytes} bytes)"
        elif bad_line:
            problem = f"line {bad_line} of {self.dataset} is not a whole record of this run"
        else:
            problem = ""
        if damage and not tally.records:
            raise DatasetMismatch(
                f"{damage} and {self.dataset} holds no records of this run to rebuild it from; "
                "use --fresh to start again, or another --out"
            )
        if damage:
            what = f"{damage}: rebuilt it from the {tally.records} records in {self.dataset}"
            self._rewind(tally, what, counts_lost=not tally.counters)
        elif problem:
            what = f"{problem}: cut back to its last whole record ({tally.records} of {claimed.records})"
            self._rewind(tally, what, counts_lost=bool(claimed.counters) and not tally.counters)

    def _read(self, f: BinaryIO, tally: Progress) -> int:
        """Count the whole records within the checkpoint into `tally`; the first bad line's number, or 0."""
        for number, line in enumerate(f, 1):
            if tally.bytes + len(line) > self.progress.bytes:
                return 0  # past the checkpoint: a batch cut short by a kill, dropped as usual
            record = self._parse(line, number)
            try:
                index = None if record is None else self._recount(record, len(line), tally)
            except (KeyError, TypeError, ValueError):  # not the shape this writer's lines have
                index = None
            if index is None or index < tally.next_index:
                return number
            tally.next_index = index + 1
        return 0

    def _parse(self, line: bytes, number: int) -> dict[str, Any] | None:
        """The record on line `number` within the checkpoint, or None if it is none (repaired: cut back
        to the last whole record); a subclass may refuse the file instead (`DatasetMismatch`)."""
        return _whole_line(line)

    def _recount(self, record: dict[str, Any], size: int, tally: Progress) -> int | None:
        """Count `record` (a line of `size` bytes) into `tally`; its candidate index, or None if it
        is no record this run could have written."""
        meta, run = record["metadata"], tally.run
        base, index = candidate_of(meta["seed"])
        if base != run["seed"] or record["device"] != run["device"]:
            return None
        if record["kernel_type"] not in run["types"]:
            return None
        tally.add_record(record["kernel_type"], meta["builtins"], meta["types"], size)
        self.sources.add(meta["source_sha1"])
        self.shapes.add(meta["ast_shape_sha1"])
        return index

    def _rewind(self, tally: Progress, what: str, counts_lost: bool) -> None:
        """Make `tally` (the records read) the checkpoint, the dataset exactly its bytes."""
        tally.failures = [f for f in self.progress.failures if f["candidates"][1] <= tally.next_index]
        with open(self.dataset, "ab") as f:
            f.truncate(tally.bytes)
        _write_atomic(self.progress_path, json.dumps(asdict(tally)))
        self.progress = tally
        lost = " (skip counts restart at 0)" if counts_lost else ""
        self.notes.append(f"repaired: {what}; resuming at candidate {tally.next_index}{lost}")

    def _truncate_to_checkpoint(self) -> None:
        """Drop anything written after the last checkpoint (a batch cut short by a kill)."""
        if self.dataset.exists() and self.dataset.stat().st_size != self.progress.bytes:
            with open(self.dataset, "r+b") as f:
                f.truncate(self.progress.bytes)

    def append(self, lines: Iterable[bytes], progress: Progress) -> None:
        """Write a batch of encoded records, then checkpoint `progress` (whose `bytes` must match)."""
        data = b"".join(lines)
        self._check_in_place()
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
            size = os.fstat(self._fd).st_size
            if size != progress.bytes:
                self._cut_back()
                raise OutputError(
                    f"{self.dataset} was changed by another process during the run ({size} bytes, "
                    f"the checkpoint says {progress.bytes}); run the same command to resume"
                )
            _write_atomic(self.progress_path, json.dumps(asdict(progress)))
        except OSError as e:
            self._cut_back()
            raise self.fault(e) from None
        self.progress = progress

    def _check_in_place(self) -> None:
        """`out` and its dataset are still the ones this run opened: not deleted, moved or replaced."""
        try:
            here, dataset, mine = os.stat(self.out), os.stat(self.dataset), os.fstat(self._fd)
            same = os.path.samestat(here, self._where) and os.path.samestat(dataset, mine)
        except OSError:  # gone, or no longer a directory
            same = False
        if not same:
            raise OutputError(
                f"{self.out} was deleted or replaced during the run; stopped writing "
                "(run the same command to resume from what it holds now)"
            )

    def _cut_back(self) -> None:
        """Best effort: no partial batch left behind (a resumed run would cut it anyway)."""
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, self.progress.bytes)

    def fault(self, e: OSError) -> OutputError:
        """The one line a user reads for a failed write: what happened, what is safe, what to do."""
        what, todo = RESOURCE_ERRORS.get(e.errno, (e.strerror or str(e), "run the same command to resume"))
        p = self.progress
        return OutputError(
            f"cannot write {e.filename or self.dataset}: {what}; {p.records} records "
            f"({p.bytes / 1e6:.2f} MB) are checkpointed in {self.out}; {todo}"
        )

    def write_stats(self, stats: dict[str, Any]) -> None:
        try:
            _write_atomic(self.out / self.STATS_FILE, json.dumps(stats, indent=2, sort_keys=True) + "\n")
        except OSError as e:
            raise self.fault(e) from None

    def close(self) -> None:
        for fd in (self._fd, self._lock):
            os.close(fd)
