"""Data flow of a dataset's kernels beside Warp's own kernels (`benchmarks.measures.dataflow`).

    PYTHONPATH=. python benchmarks/dataflow.py DATASET [--warp-kernels]

DATASET is a run's directory or its `dataset.jsonl`.  Prints, per source, the
mean over kernels of: live assignments, kernel parameters read, outputs fed by
an input, `wp.*` calls with only constant arguments; then size percentiles
(record and python_source bytes for the dataset, kernel source bytes for Warp's).
Warp's kernels are every `@wp.kernel` in the installed `warp` package (its
examples, tests and libraries).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks.measures.dataflow import KernelFlow, Summary, analyze, percentiles


def dataset_flows(path: Path) -> tuple[list[KernelFlow], list[int], list[int]]:
    """Flows of every record's kernel, record sizes and python_source sizes."""
    file = path / "dataset.jsonl" if path.is_dir() else path
    flows, records, sources = [], [], []
    with open(file, "rb") as f:
        for line in f:
            record = json.loads(line)
            flows += analyze(record["python_source"], record["kernel_name"])
            records.append(len(line))
            sources.append(len(record["python_source"].encode()))
    return flows, records, sources


def warp_flows() -> list[KernelFlow]:
    """Flows of every `@wp.kernel` in the installed warp package."""
    import importlib.util

    root = Path(importlib.util.find_spec("warp").origin).parent  # type: ignore[arg-type]
    flows: list[KernelFlow] = []
    for file in sorted(root.rglob("*.py")):
        try:
            flows += analyze(file.read_text(errors="replace"))
        except (SyntaxError, ValueError, RecursionError):
            continue
    return flows


def _row(label: str, s: Summary) -> str:
    return (
        f"| {label} | {s.kernels} | {s.live_assignments:.3f} | {s.params_read:.3f} | "
        f"{s.input_fed_outputs:.3f} | {s.constant_calls:.3f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--no-warp", action="store_true", help="skip Warp's own kernels")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not args.dataset.exists():
        print(f"dataflow: {args.dataset}: no such dataset", file=sys.stderr)
        return 2
    flows, records, sources = dataset_flows(args.dataset)
    ours = Summary.of(flows)
    print(
        "| kernels of | kernels | live assignments | parameters read | input-fed outputs "
        "| constant-only calls |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    print(_row(os.fspath(args.dataset), ours))
    figures = {"dataset": vars(ours)}
    if not args.no_warp:
        theirs = warp_flows()
        print(_row("Warp's own kernels", Summary.of(theirs)))
        figures["warp"] = vars(Summary.of(theirs))
        figures["warp_kernel_bytes"] = percentiles([f.source_bytes for f in theirs])
    figures["record_bytes"] = percentiles(records)
    figures["python_source_bytes"] = percentiles(sources)
    figures["kernel_bytes"] = percentiles([f.source_bytes for f in flows])
    print()
    for key in ("record_bytes", "python_source_bytes", "kernel_bytes", "warp_kernel_bytes"):
        if key in figures:
            print(f"{key}: " + ", ".join(f"{p} {v:,}" for p, v in figures[key].items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
