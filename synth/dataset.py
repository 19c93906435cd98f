"""A written dataset, read back: the directory checked, records streamed, splits by structural hash.

Every command that reads a dataset (`export`, `stats`, `show`, `validate`) opens it
here, so a missing directory, a file that is no dataset, or a dataset made with
another Warp is one line (`DatasetError`, reported like a bad argument).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import warp_access
from emit.schema import errors
from emit.writer import DATASET, PROGRESS, STATS, Progress, lock_holder
from synth import schema
from synth.args import UsageError

SPLITS = ("train", "validation", "test")
DEFAULT_RATIOS = (0.98, 0.01, 0.01)


class DatasetError(UsageError):
    """The path given is no readable dataset of this warp-synth: reported in one line."""


@dataclass(frozen=True)
class Dataset:
    dir: Path
    jsonl: Path
    run: dict[str, Any] | None  # progress.json's run identity (device, seed, types ...), if present
    stats_path: Path

    def lines(self, limit: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(line number from 1, raw line) for every line of dataset.jsonl, streamed; with `limit`, only
        the lines within its first `limit` bytes (a checkpoint: a run may be appending past it)."""
        read = 0
        with open(self.jsonl, "rb") as f:
            for number, line in enumerate(f, start=1):
                read += len(line)
                if limit is not None and read > limit:
                    return
                yield number, line

    def records(self) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
        """(line number, raw line, record) for every line; a line that is no record is a DatasetError."""
        for number, line in self.lines():
            record, problem = parse(line)
            if problem:
                raise DatasetError(f"{self.jsonl}:{number}: {problem}; `python -m synth validate` lists all")
            yield number, line, record

    def stats(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return None

    def unfinished(self) -> Unfinished | None:
        """Why the dataset is not (yet) a finished run's, with its checkpoint; None if it is."""
        try:
            checkpoint = Progress.from_json((self.dir / PROGRESS).read_text())
        except (OSError, ValueError, TypeError):
            return None
        held = f"{checkpoint.records} records ({checkpoint.bytes / 1e6:.2f} MB)"
        holder = lock_holder(self.dir)
        if holder is not None:
            return Unfinished(
                f"{self.dir} is being written by a run (pid {holder}); it holds {held} so far", checkpoint
            )
        stats = self.stats()
        if stats is None or stats.get("records") != checkpoint.records:
            return Unfinished(
                f"{self.dir} is unfinished: its run stopped at {held} before writing {STATS} "
                "(run the same command to finish it)",
                checkpoint,
            )
        return None


@dataclass(frozen=True)
class Unfinished:
    """A dataset a run is writing, or that a run left without its stats: what is checked is its checkpoint."""

    why: str
    checkpoint: Progress

    def stated(self) -> dict[str, Any]:
        """What the checkpoint says of the records it covers, in stats.json's terms."""
        p = self.checkpoint
        counts = {"per_type": p.per_type, "builtins": p.builtins, "types": p.types}
        return counts | {
            "records": p.records,
            "bytes": p.bytes,
            "distinct_builtins": len(p.builtins),
            "distinct_types": len(p.types),
            "device": p.run.get("device"),
            "seed": p.run.get("seed"),
        }


def parse(line: bytes) -> tuple[dict[str, Any], str]:
    """A line's record, or why it is none (a truncated line, bad JSON, the wrong fields)."""
    if not line.endswith(b"\n"):
        return {}, "truncated line (no newline at the end of the file)"
    try:
        record = json.loads(line)
    except ValueError as e:
        return {}, f"not JSON ({e.msg} at column {e.colno})"
    problems = errors(record, schema.RECORD)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return {}, f"not a record of this schema: {problems[0]}{more}"
    return record, ""


def open_dataset(path: Path) -> Dataset:
    """The dataset in directory `path` (or `path` = its dataset.jsonl), checked enough to read it."""
    if not path.exists():
        raise DatasetError(f"{path}: no such directory")
    directory = path.parent if path.is_file() and path.name == DATASET else path
    jsonl = directory / DATASET
    if not directory.is_dir():
        raise DatasetError(
            f"{path}: not a dataset directory (a file; expected a directory holding {DATASET})"
        )
    if not jsonl.is_file():
        raise DatasetError(f"{directory}: not a dataset directory (no {DATASET})")
    _check_first_line(jsonl)
    return Dataset(directory, jsonl, _run(directory), directory / STATS)


def _check_first_line(jsonl: Path) -> None:
    """The first line is a record of the installed Warp version: a quick test the file is a dataset."""
    try:
        with open(jsonl, "rb") as f:
            first = f.readline(1 << 26)
    except OSError as e:
        raise DatasetError(f"{jsonl}: cannot read ({e.strerror})") from None
    if not first:
        raise DatasetError(f"{jsonl}: empty, no records")
    try:
        version = json.loads(first)["metadata"]["warp_version"]
    except (ValueError, KeyError, TypeError):
        raise DatasetError(f"{jsonl}: not a warp-synth dataset (line 1 is not a record)") from None
    installed = warp_access.warp_version()
    if version != installed:
        raise DatasetError(
            f"{jsonl}: made with warp-lang {version}; this warp-synth runs warp-lang {installed}, "
            "whose code would differ: regenerate the dataset"
        )


def _run(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / PROGRESS).read_text())["run"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def split_of(ast_shape_sha1: str, ratios: tuple[float, ...] = DEFAULT_RATIOS) -> str:
    """The split of a record, from its structural hash alone.

    The hash's first 64 bits, as a fraction of 2**64, fall in one of the
    cumulative ratio intervals: the same shape is always in the same split,
    whatever order records are read in, and splits hold close to the ratios.
    """
    u = int(ast_shape_sha1[:16], 16) / 2**64
    edge = 0.0
    for name, ratio in zip(SPLITS, ratios, strict=True):
        edge += ratio
        if u < edge:
            return name
    return next(name for name, ratio in reversed(list(zip(SPLITS, ratios, strict=True))) if ratio > 0)


def ratios(text: str) -> tuple[float, ...]:
    """`--split 0.98,0.01,0.01`: three non-negative fractions, train/validation/test, summing to 1."""
    try:
        values = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected three numbers like 0.98,0.01,0.01, got {text!r}"
        ) from None
    if len(values) != len(SPLITS) or min(values) < 0 or abs(sum(values) - 1) > 1e-9:
        raise argparse.ArgumentTypeError(
            f"expected three non-negative fractions (train,validation,test) summing to 1, got {text!r}"
        )
    return values
