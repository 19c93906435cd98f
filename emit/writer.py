"""The dataset on disk: append-only JSONL with an atomic checkpoint per batch.

`dataset.jsonl` only grows by whole batches.  After each batch is written and
fsynced, `progress.json` is replaced atomically (write, fsync, rename) with the
byte length of the dataset and the next candidate index.  A run killed at any
moment (SIGKILL included) restarts from the last checkpoint: bytes after the
recorded length, a partly written batch, are cut off, and generation resumes
at the recorded index.  Nothing is lost that was checkpointed and nothing is
written twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DATASET = "dataset.jsonl"
PROGRESS = "progress.json"
STATS = "stats.json"


class DatasetMismatch(Exception):
    """`--out` holds a dataset made with other arguments."""


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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class DatasetWriter:
    """Appends record batches to `out/dataset.jsonl`, checkpointing after each."""

    #: The appended file, the stats file, and what messages call the content (a subclass with
    #: other names checkpoints other JSONL the same way: `synth.fuzz_results`).
    DATA_FILE, STATS_FILE, CONTENT = DATASET, STATS, "a dataset"

    def __init__(self, out: Path, run: dict[str, Any], fresh: bool = False):
        self.out = out
        self.dataset = out / self.DATA_FILE
        self.progress_path = out / PROGRESS
        out.mkdir(parents=True, exist_ok=True)
        if fresh:
            for name in (self.DATA_FILE, PROGRESS, self.STATS_FILE):
                (out / name).unlink(missing_ok=True)
        self.progress = self._load(run)
        self._truncate_to_checkpoint()
        self._file = open(self.dataset, "ab")  # noqa: SIM115 (closed by close())

    def _load(self, run: dict[str, Any]) -> Progress:
        if not self.progress_path.exists():
            if self.dataset.exists() and self.dataset.stat().st_size > 0:
                raise DatasetMismatch(
                    f"{self.dataset} exists without {PROGRESS}; use --fresh or another --out"
                )
            return Progress(run=run)
        progress = Progress(**json.loads(self.progress_path.read_text()))
        if progress.run != run:
            differing = sorted(
                k for k in run.keys() | progress.run.keys() if run.get(k) != progress.run.get(k)
            )
            raise DatasetMismatch(
                f"{self.out} holds {self.CONTENT} made with other {', '.join(differing)}; "
                "use --fresh or another --out"
            )
        return progress

    def _truncate_to_checkpoint(self) -> None:
        """Drop anything written after the last checkpoint (a batch cut short by a kill)."""
        if self.dataset.exists() and self.dataset.stat().st_size != self.progress.bytes:
            with open(self.dataset, "r+b") as f:
                f.truncate(self.progress.bytes)

    def append(self, lines: Iterable[bytes], progress: Progress) -> None:
        """Write a batch of encoded records, then checkpoint `progress` (whose `bytes` must match)."""
        data = b"".join(lines)
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._file.tell() != progress.bytes:
            raise AssertionError(f"dataset is {self._file.tell()} bytes, checkpoint says {progress.bytes}")
        _write_atomic(self.progress_path, json.dumps(asdict(progress)))
        self.progress = progress

    def written_hashes(self) -> tuple[set[str], set[str]]:
        """Source and AST-shape hashes of the records already written (for dedup on resume)."""
        sources, shapes = set(), set()
        with open(self.dataset, "rb") as f:
            for line in f:
                meta = json.loads(line)["metadata"]
                sources.add(meta["source_sha1"])
                shapes.add(meta["ast_shape_sha1"])
        return sources, shapes

    def write_stats(self, stats: dict[str, Any]) -> None:
        _write_atomic(self.out / self.STATS_FILE, json.dumps(stats, indent=2, sort_keys=True) + "\n")

    def close(self) -> None:
        self._file.close()
