"""The checkpoint is replaced, never rewritten in place: a write of `progress.json` that fails
half-way (a full disk, a kill) leaves the previous checkpoint whole, and the run resumes from it
without a repair."""

from __future__ import annotations

import builtins
import copy
import errno
import io
import json
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

from emit.records import candidate_seed
from emit.writer import MARKER, PROGRESS, DatasetWriter, OutputError

RUN = {"seed": 5, "device": "cpu", "types": ["arithmetic"]}


def _line(index: int) -> bytes:
    """A record of RUN as the writer reads it back (the fields `DatasetWriter._recount` uses)."""
    meta = {
        "seed": candidate_seed(RUN["seed"], index),
        "builtins": [],
        "types": [],
        "source_sha1": f"s{index}",
        "ast_shape_sha1": f"a{index}",
    }
    record = {"kernel_type": "arithmetic", "device": RUN["device"], "metadata": meta}
    return json.dumps(record).encode() + b"\n"


def _append(writer: DatasetWriter, index: int) -> None:
    """Candidate `index` as one batch, checkpointed."""
    line = _line(index)
    progress = copy.deepcopy(writer.progress)
    progress.add_record("arithmetic", [], [], len(line))
    progress.next_index = index + 1
    writer.append([line], progress)


class _HalfWritten:
    """A file whose first write stores half its text, then fails as a full disk does."""

    def __init__(self, f: Any):
        self._f = f

    def write(self, text: str) -> NoReturn:
        self._f.write(text[: len(text) // 2])
        self._f.flush()
        raise OSError(errno.ENOSPC, "No space left on device", self._f.name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _HalfWritten:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def _fail_checkpoint_writes(monkeypatch) -> list[str]:
    """From now on, every file opened for writing whose name starts with `progress.json` fails
    half-way through its first write; returns the names opened so (as they are opened)."""
    real_open = io.open
    opened: list[str] = []

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = real_open(file, mode, *args, **kwargs)
        if Path(str(file)).name.startswith(PROGRESS) and any(m in mode for m in "wax+"):
            opened.append(Path(str(file)).name)
            return _HalfWritten(f)
        return f

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)  # pathlib's write_text opens with io.open
    return opened


def test_a_checkpoint_write_that_fails_half_way_leaves_the_last_checkpoint_whole(tmp_path, monkeypatch):
    writer = DatasetWriter(tmp_path, RUN)
    _append(writer, 0)
    before = (tmp_path / PROGRESS).read_bytes()
    opened = _fail_checkpoint_writes(monkeypatch)
    with pytest.raises(OutputError, match="no space left on device"):
        _append(writer, 1)
    writer.close()
    monkeypatch.undo()
    assert opened, "the checkpoint was not written through open(): this test no longer reaches it"
    assert (tmp_path / PROGRESS).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", MARKER, "dataset.jsonl", PROGRESS]

    resumed = DatasetWriter(tmp_path, RUN)
    assert resumed.notes == []  # nothing to repair
    assert (resumed.progress.records, resumed.progress.next_index) == (1, 1)
    assert (tmp_path / "dataset.jsonl").read_bytes() == _line(0)
    resumed.close()


def test_a_new_checkpoint_is_on_disk_before_it_replaces_the_old(tmp_path, monkeypatch):
    """Write, fsync, rename: a power cut after the rename finds the new checkpoint's bytes."""
    writer = DatasetWriter(tmp_path, RUN)
    fsynced: list[str] = []  # the files fsynced, in order
    replaced: list[tuple[int, str, str]] = []  # (files fsynced before, source, destination's name)
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        replaced.append((len(fsynced), os.path.abspath(src), Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    _append(writer, 0)
    writer.close()
    ((before, source, destination),) = replaced
    assert destination == PROGRESS and source in fsynced[:before], (fsynced, replaced)
