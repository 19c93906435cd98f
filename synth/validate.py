"""`python -m synth validate DIR [--sample N] [--compile]`: the outside check of a written dataset.

- every line is a record of the schema (a truncated last line is not);
- `stats.json` agrees with the file (records, bytes, counts);
- each checked record (all, or a sample of N) is true and reproducible: the record
  regenerated from its seed (`grammar.sample.sample`, lowered by `emit.lower.lower`)
  equals it field by field, so a code field differing by one character is caught;
  with `--compile`, its exact code compiles (`check.compile`, the compiler's output
  kept off the terminal).

Each bad record is one line on stdout (`FILE:LINE (seed S): what is wrong`), the
totals one line on stderr; the exit status is 1 if anything is wrong.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from typing import Any

from synth.args import Parser, UsageError, add_dataset_dir, positive_int
from synth.dataset import Dataset, open_dataset, parse
from synth.summary import Summary

#: Records compiled per batch (one translation unit unless one fails: then it is bisected).
COMPILE_BATCH = 32
CODE_FIELDS = ("code_forward", "code_backward", "code_helpers")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m synth validate",
        description="Check a dataset: every line's schema, stats.json, and that records re-lower "
        "and regenerate from their seeds exactly (optionally: compile).",
    )
    add_dataset_dir(parser)
    parser.add_argument(
        "--sample", type=positive_int, default=None, metavar="N", help="check N random records (default: all)"
    )
    parser.add_argument("--compile", action="store_true", help="also compile the checked records' code")
    return parser


def run(args: argparse.Namespace) -> int:
    import warp_access
    from emit.lower import HASH_SEED

    if sys.flags.hash_randomization:
        raise UsageError(
            f"validate re-lowers records: run it with PYTHONHASHSEED={HASH_SEED} (python -m synth does)"
        )
    dataset = open_dataset(args.dir)
    warp_access.init_warp()
    bad = 0

    def report(number: int | None, problem: str, record: dict[str, Any] | None = None) -> None:
        nonlocal bad
        bad += 1
        where = f"{dataset.jsonl}:{number}" if number else str(dataset.stats_path)
        seed = f" (seed {record['metadata']['seed']})" if record else ""
        print(f"{where}{seed}: {problem}", flush=True)

    unfinished = dataset.unfinished()
    if unfinished:
        print(f"synth: validate: {unfinished.why}; checking those records", file=sys.stderr)
    limit = unfinished.checkpoint.bytes if unfinished else None
    summary, valid = _schema_pass(dataset, report, limit)
    stated = unfinished.stated() if unfinished else dataset.stats()
    for problem in stats_problems(dataset, summary, stated, limit):
        report(None, problem)
    chosen = set(
        valid if args.sample is None else random.Random(0).sample(valid, min(args.sample, len(valid)))
    )
    for number, record, problems in _record_pass(dataset, chosen, args.compile, limit):
        if problems:
            report(number, "; ".join(problems), record)
    compiled = " and compiled" if args.compile else ""
    print(
        f"synth: validate {dataset.jsonl}: {summary.records} records; {len(chosen)} regenerated, "
        f"re-lowered{compiled}; {bad} problem(s)",
        file=sys.stderr,
    )
    return 1 if bad else 0


def _schema_pass(dataset: Dataset, report: Any, limit: int | None) -> tuple[Summary, list[int]]:
    """Every line (within `limit` bytes) parsed and schema-checked; the counts of the good ones and
    their line numbers."""
    import warp_access

    summary, valid = Summary(), []
    groups = warp_access.builtin_groups()
    for number, line in dataset.lines(limit):
        record, problem = parse(line)
        if problem:
            report(number, problem)
            continue
        summary.add(line, record, groups)
        valid.append(number)
    return summary, valid


def stats_problems(
    dataset: Dataset, summary: Summary, stats: dict[str, Any] | None, limit: int | None = None
) -> list[str]:
    """Where `stats` (stats.json, or an unfinished dataset's checkpoint) disagrees with the records in
    the file (within `limit` bytes)."""
    if stats is None:
        return [f"missing or not JSON (the run that wrote {dataset.jsonl.name} did not finish?)"]
    seeds = set(summary.base_seeds)
    size = dataset.jsonl.stat().st_size
    actual = {
        "records": summary.records,
        "bytes": size if limit is None else min(size, limit),
        "per_type": dict(summary.kernel_types),
        "builtins": dict(summary.builtins),
        "distinct_builtins": len(summary.builtins),
        "types": dict(summary.types),
        "distinct_types": len(summary.types),
        "device": next(iter(summary.devices)) if len(summary.devices) == 1 else sorted(summary.devices),
        "seed": next(iter(seeds)) if len(seeds) == 1 else sorted(seeds),
    }
    return [
        _disagreement(key, stats.get(key), value) for key, value in actual.items() if stats.get(key) != value
    ]


def _disagreement(key: str, stated: Any, actual: Any) -> str:
    """One line: what stats.json says of `key` against the file; of counts, the first few that differ."""
    if not (isinstance(stated, dict) and isinstance(actual, dict)):
        return f"{key} is {_short(stated)}, the file has {_short(actual)}"
    names = sorted(k for k in stated.keys() | actual.keys() if stated.get(k) != actual.get(k))
    more = f" (and {len(names) - 3} more)" if len(names) > 3 else ""
    return (
        "; ".join(f"{key}[{k}] is {stated.get(k, 0)}, the file has {actual.get(k, 0)}" for k in names[:3])
        + more
    )


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _record_pass(
    dataset: Dataset, chosen: set[int], compile_too: bool, limit: int | None
) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
    """(line number, record, problems) of each chosen record, compiled in batches if asked."""
    batch: list[tuple[int, dict[str, Any], list[str]]] = []
    for number, line in dataset.lines(limit):
        if number in chosen:
            record = json.loads(line)
            batch.append((number, record, record_problems(record)))
        if len(batch) >= (COMPILE_BATCH if compile_too else 1):
            yield from _compiled(batch) if compile_too else batch
            batch = []
    yield from _compiled(batch) if compile_too else batch


def record_problems(record: dict[str, Any]) -> list[str]:
    """How `record` differs from the record its seed regenerates (sampled, lowered, described)."""
    from emit.lower import lower
    from emit.records import build_record
    from grammar.sample import sample

    meta = record["metadata"]
    fresh = build_record(sample(meta["seed"], focus=meta["policy_focus"]), record["device"])
    problems = []
    if fresh["python_source"] != record["python_source"]:
        problems.append("python_source differs from the one grammar.sample.sample(seed) gives")
        # the code must still be the lowering of the source it is stored with
        code = lower(record["python_source"], record["kernel_name"], record["device"])
        fresh |= {"code_forward": code.forward, "code_backward": code.backward, "code_helpers": code.helpers}
    for name in CODE_FIELDS:
        if fresh[name] != record[name]:
            at = _first_difference(fresh[name] or "", record[name] or "")
            problems.append(f"{name} differs from a fresh lowering of python_source (at character {at})")
    for name in ("device", "kernel_name", "kernel_type"):
        if fresh[name] != record[name]:
            problems.append(f"{name} is {record[name]!r}, the seed gives {fresh[name]!r}")
    for name, value in fresh["metadata"].items():
        if record["metadata"][name] != value:
            problems.append(f"metadata.{name} differs from the regenerated record's")
    return problems


def _first_difference(a: str, b: str) -> int:
    return next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _compiled(
    batch: list[tuple[int, dict[str, Any], list[str]]],
) -> list[tuple[int, dict[str, Any], list[str]]]:
    """The batch, with a problem added to each record whose code does not compile."""
    from check.compile import failing, record_code

    for device in {record["device"] for _, record, _ in batch}:
        group = [entry for entry in batch if entry[1]["device"] == device]
        for n, message in failing([record_code(record) for _, record, _ in group], device).items():
            group[n][2].append(f"does not compile: {_first_error(message)}")
    return batch


def _first_error(message: str) -> str:
    """The compiler's first diagnostic (`...: error: ...`), else the first line: its message is pages long."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    diagnostic = next((line for line in lines if "error:" in line), lines[0] if lines else "")
    return re.sub(r"^\S*[/\\]", "", diagnostic)[:200]  # no temporary directory in the message
