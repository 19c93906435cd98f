"""`python -m synth export DIR --format parquet --out PDIR`: Parquet shards, splits, card and plots.

Streams: records are read line by line and written a row group at a time, so
memory is bounded by a row group per split (`ROW_GROUP_BYTES`), whatever the
dataset's size.  Shards are named as Hugging Face names them
(`data/train-00000-of-00002.parquet`), so `datasets.load_dataset("parquet",
data_dir=PDIR)` gives a DatasetDict of the three splits; the shards appear in
`PDIR/data` at once, at the end (an interrupted export leaves the old ones).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import warp_access
from emit.writer import claim_output, mark_output
from synth import schema
from synth.args import Parser, UsageError, add_dataset_dir, check_writable, positive_int
from synth.card import Layout, write_card
from synth.dataset import DEFAULT_RATIOS, SPLITS, Dataset, open_dataset, ratios
from synth.summary import Summary

#: Default shard size, in bytes of records (as JSON): about 128 MB, as The Stack's shards.
DEFAULT_SHARD_BYTES = 128_000_000
#: A row group holds at most this many bytes of records: the memory bound, per split.
ROW_GROUP_BYTES = 8_000_000
DATA_DIR = "data"
EXPORT = "a Parquet export"  # what the --out marker says (`emit.writer.claim_output`)
COMPRESSION = "zstd"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m synth export",
        description="Write a dataset as Parquet shards split train/validation/test by structural hash, "
        "with a Hugging Face dataset card (README.md) and its plots.",
    )
    add_dataset_dir(parser)
    parser.add_argument("--format", choices=("parquet",), default="parquet", help="output format (parquet)")
    parser.add_argument("--out", type=Path, required=True, metavar="PDIR", help="output directory")
    parser.add_argument(
        "--shard-bytes",
        type=positive_int,
        default=DEFAULT_SHARD_BYTES,
        metavar="N",
        help=f"start a new shard past N bytes of records (default {DEFAULT_SHARD_BYTES})",
    )
    parser.add_argument(
        "--split",
        type=ratios,
        default=DEFAULT_RATIOS,
        metavar="T,V,E",
        help="train,validation,test fractions (default 0.98,0.01,0.01)",
    )
    return parser


class SplitWriter:
    """One split's shards: records buffered into row groups, a new shard past `shard_bytes`."""

    def __init__(self, split: str, work: Path, arrow_schema: Any, shard_bytes: int):
        self.split, self.work, self.schema, self.shard_bytes = split, work, arrow_schema, shard_bytes
        self.shards: list[Path] = []
        self.writer: Any = None
        self.rows: list[dict[str, Any]] = []
        self.buffered = self.in_shard = 0

    def add(self, record: dict[str, Any], size: int) -> None:
        if self.writer is None or self.in_shard >= self.shard_bytes:
            self._new_shard()
        self.rows.append(record)
        self.buffered += size
        self.in_shard += size
        if self.buffered >= ROW_GROUP_BYTES or self.in_shard >= self.shard_bytes:
            self._flush()

    def _new_shard(self) -> None:
        import pyarrow.parquet as pq

        self._flush()
        if self.writer is not None:
            self.writer.close()
        self.shards.append(self.work / f"{self.split}-{len(self.shards)}.parquet")
        self.writer = pq.ParquetWriter(self.shards[-1], self.schema, compression=COMPRESSION)
        self.in_shard = 0

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_batch(pa.RecordBatch.from_pylist(self.rows, schema=self.schema))
        self.rows, self.buffered = [], 0

    def close(self, data: Path) -> list[str]:
        """Finish the last shard and give the shards their final names (none for an empty split:
        `load_dataset` refuses a split without rows)."""
        if self.writer is None:
            return []
        self._flush()
        self.writer.close()
        names = []
        for n, shard in enumerate(self.shards):
            names.append(f"{self.split}-{n:05d}-of-{len(self.shards):05d}.parquet")
            shard.rename(data / names[-1])
        return names


def export(dataset: Dataset, out: Path, shard_bytes: int, split_ratios: tuple[float, ...]) -> Summary:
    """Write the shards into `out/data` (replacing any there); the summary of what was written."""
    summary = Summary(ratios=split_ratios)
    groups = warp_access.builtin_groups()
    arrow_schema = schema.arrow_schema()
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out) as tmp:
        work, data = Path(tmp) / "shards", Path(tmp) / DATA_DIR
        work.mkdir()
        data.mkdir()
        writers = {s: SplitWriter(s, work, arrow_schema, shard_bytes) for s in SPLITS}
        for _, line, record in dataset.records():
            writers[summary.add(line, record, groups)].add(record, len(line))
        for writer in writers.values():
            writer.close(data)
        _replace_dir(data, out / DATA_DIR, Path(tmp) / "old")
    return summary


def _replace_dir(new: Path, target: Path, trash: Path) -> None:
    """Put `new` at `target`, the old one (if any) moved aside first, then deleted."""
    if target.exists():
        target.rename(trash)
    new.rename(target)
    shutil.rmtree(trash, ignore_errors=True)


def _exported_before_markers(out: Path) -> bool:
    return any((out / DATA_DIR).glob("*.parquet"))


def run(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError("export needs pyarrow and matplotlib: pip install 'warp-synth[export]'") from None
    from synth.plots import draw

    dataset = open_dataset(args.dir)
    claim_output(args.out, EXPORT, _exported_before_markers)
    created = not args.out.exists()
    check_writable(args.out)
    try:
        summary = export(dataset, args.out, args.shard_bytes, args.split)
    except BaseException:  # a bad line found late, an interrupt: leave no empty PDIR behind
        if created:
            shutil.rmtree(args.out, ignore_errors=True)
        raise
    mark_output(args.out, EXPORT)
    ratios_text = ",".join(f"{r:g}" for r in args.split)
    command = (
        f"python -m synth export DIR --format parquet --out PDIR --shard-bytes {args.shard_bytes} "
        f"--split {ratios_text}"
    )
    layout = Layout(
        {s: f"{DATA_DIR}/{s}-*.parquet" for s in SPLITS if summary.splits[s]},
        (command,),
        'load_dataset("parquet", data_dir="PDIR")  # a DatasetDict of the splits',
    )
    card = write_card(args.out, dataset, summary, layout, draw(summary, args.out))
    rows = ", ".join(f"{s} {n}" for s, n, _ in summary.split_rows())
    print(f"synth: exported {summary.records} records ({rows}) -> {args.out / DATA_DIR}; card {card}")
    return 0
