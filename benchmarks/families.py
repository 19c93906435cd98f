"""Per family of issue 14: records in datasets, and kernels executed and gradient-checked by fuzz.

    PYTHONHASHSEED=0 PYTHONPATH=. python benchmarks/families.py [--dataset DIR]... [--fuzz DIR]

A kernel belongs to a family when its source spells one of the family's markers
(a geometry builtin, a tile primitive beyond load/store/map/transpose/reductions,
`@wp.func_grad`, `@wp.kernel(...)`, `wp.block_dim()`, `wp.bfloat16`, `wp.address_of`).
For each `--dataset` (a run's directory, e.g. one written with `--verify compile`, whose
records all compiled): records per family.  For `--fuzz` (a `synth fuzz` output
directory): per family, kernels whose `execution` is `executed`, and gradient-check
statuses (sources are regenerated from the seeds in `results.jsonl`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from grammar.builtins import GEOMETRY_BUILTINS, TILE_BUILTINS
from grammar.sample import sample
from grammar.unparse import to_source

#: Tile primitives the grammar generated before issue 14.
FIRST_TILES = ("tile_load", "tile_store", "tile_map", "tile_transpose", "tile_sum", "tile_max", "tile_min")
FAMILIES: dict[str, tuple[str, ...]] = {
    "geometry": tuple(f"wp.{n}(" for n in GEOMETRY_BUILTINS),
    "tiles (new primitives)": tuple(
        f"wp.{n}(" for n in TILE_BUILTINS if n not in (*FIRST_TILES, "tile_reduce", "tile_atomic_add")
    ),
    "custom gradients": ("@wp.func_grad(",),
    "kernel options": ("@wp.kernel(",),
    "block_dim": ("wp.block_dim()",),
    "bfloat16": ("wp.bfloat16(",),
    "address_of": ("wp.address_of(",),
}


def families(source: str) -> list[str]:
    return [name for name, markers in FAMILIES.items() if any(m in source for m in markers)]


def dataset_counts(path: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    with open(path / "dataset.jsonl", "rb") as f:
        for line in f:
            counts["records"] += 1
            counts.update(families(json.loads(line)["python_source"]))
    return counts


def fuzz_counts(path: Path) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {name: Counter() for name in ["all", *FAMILIES]}
    with open(path / "results.jsonl") as f:
        for line in f:
            result = json.loads(line)
            meta = result["metadata"]
            names = ["all", *families(to_source(sample(result["seed"]).tree))]
            for name in names:
                found[name]["kernels"] += 1
                found[name][meta.get("execution", "not run").partition(":")[0]] += 1
                found[name]["gradcheck " + meta.get("gradcheck", {}).get("status", "not run")] += 1
                found[name].update(f"finding {kind}" for kind in result["failures"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, action="append", default=[])
    parser.add_argument("--fuzz", type=Path)
    args = parser.parse_args()
    for path in args.dataset:
        counts = dataset_counts(path)
        print(f"{path}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if args.fuzz:
        for name, counts in fuzz_counts(args.fuzz).items():
            print(f"fuzz {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
