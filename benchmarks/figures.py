"""The counts the docs quote of a run, from its dataset (`synth.summary`, as `stats` and the card).

    PYTHONPATH=. python benchmarks/figures.py DATASET
    PYTHONPATH=. python benchmarks/figures.py --count 40     # a fresh run: --seed 0 --workers 1

DATASET is a run's directory.  `--count N` first runs `python -m synth --count N --seed 0
--workers 1` into a temporary directory.  `docs/benchmarks.md` holds this script's output for
`--count 40` verbatim (`tests/test_docs.py` runs it again and compares).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from synth.dataset import open_dataset
from synth.summary import CONSTRUCTORS, Summary, operators, registry_coverage, summarize


def run(count: int, out: Path) -> None:
    """`python -m synth --count COUNT --seed 0 --workers 1 --out OUT`, quietly."""
    command = [sys.executable, "-m", "synth", "--count", str(count), "--seed", "0", "--workers", "1"]
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run([*command, "--out", str(out)], check=True, capture_output=True, env=env)


def builtin_lines(summary: Summary, spelled: set[str]) -> list[str]:
    """`wp.*` call names (registry builtins and constructors), the operators `spelled`, families."""
    constructors = len(summary.family_builtins.get(CONSTRUCTORS, ()))
    registry = registry_coverage()
    families = set(summary.families) - {CONSTRUCTORS}
    return [
        f"wp.* call names: {len(summary.builtins)} ({len(summary.builtins) - constructors} registry "
        f"builtins, {constructors} type constructors and wp.constant)",
        f"Python operators: {len(spelled)} of the {registry['Operators']} registry operators",
        f"builtin families: {len(families)} of {len(registry)}",
    ]


def figures(directory: Path) -> list[str]:
    """The lines this script prints for the dataset in `directory`."""
    dataset = open_dataset(directory)
    summary = summarize(dataset)
    stats = json.loads(dataset.stats_path.read_text())
    records = [record for _, _, record in dataset.records()]
    shapes = {record["metadata"]["ast_shape_sha1"] for record in records}
    spelled = set().union(*(operators(record["python_source"]) for record in records))
    skipped = ", ".join(f"{n} {k}" for k, n in sorted(stats["skipped"].items())) or "none"
    source = summary.percentiles("python_source")
    return [
        f"records: {summary.records:,} of {stats['candidates']:,} candidates (skipped: {skipped})",
        f"kernel types: {len(summary.kernel_types)}",
        *builtin_lines(summary, spelled),
        f"Warp types: {len(summary.types)}",
        f"distinct AST shapes: {len(shapes) / summary.records:.0%}",
        f"python_source bytes: median {source[2]:,}, p90 {source[3]:,}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, help="a run's directory")
    parser.add_argument("--count", type=int, help="run python -m synth --count N --seed 0 first")
    args = parser.parse_args()
    if (args.dataset is None) == (args.count is None):
        parser.error("give DATASET or --count N")
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.dataset or Path(tmp) / "d"
        if args.count is not None:
            run(args.count, directory)
        print("\n".join(figures(directory)))


if __name__ == "__main__":
    main()
