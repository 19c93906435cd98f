"""How much of Warp's own kernel language a dataset covers, weighted by how Warp's kernels use it.

    PYTHONPATH=. python benchmarks/coverage.py DATASET [--json FILE] [--gaps N]

Method (issue 14): every `@wp.kernel` function in the installed `warp` package
(its examples, tests and libraries: `benchmarks.measures.dataflow.kernel_functions`) is
parsed, and the `wp.*` names it calls are collected (`wp.sin(x)`, `wp.vec3(...)`,
`wp.tile_load(...)`; calls in its body only, not annotations).  A name's weight
is the number of Warp kernels calling it.  A name is covered when some record of
DATASET calls it (parsed from `python_source` the same way, helpers included).

- weighted coverage = sum of the weights of covered names / sum of all weights;
- kernels covered = share of Warp's kernels all of whose names are covered.

DATASET is a run's directory or its `dataset.jsonl`.  `--gaps N` lists the N
heaviest uncovered names.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

from benchmarks.measures.dataflow import kernel_functions
from grammar.astnodes import wp_name


def called_names(node: ast.AST) -> set[str]:
    """`wp.*` names called anywhere under `node` (annotations hold no calls of the body)."""
    return {name for n in ast.walk(node) if isinstance(n, ast.Call) and (name := wp_name(n.func)) is not None}


def warp_kernel_names() -> list[set[str]]:
    """Per `@wp.kernel` of the installed warp package: the `wp.*` names its body calls."""
    root = Path(importlib.util.find_spec("warp").origin).parent  # type: ignore[arg-type]
    kernels = []
    for file in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(file.read_text(errors="replace"))
        except (SyntaxError, ValueError, RecursionError):
            continue
        for kernel in kernel_functions(tree):
            kernels.append(set().union(*(called_names(s) for s in kernel.body)))
    return kernels


def dataset_names(path: Path) -> set[str]:
    """Every `wp.*` name some record's module calls."""
    file = path / "dataset.jsonl" if path.is_dir() else path
    names: set[str] = set()
    with open(file, "rb") as f:
        for line in f:
            names |= called_names(ast.parse(json.loads(line)["python_source"]))
    return names


def coverage(kernels: list[set[str]], covered: set[str]) -> dict[str, float | int]:
    weights = Counter(name for names in kernels for name in names)
    total = sum(weights.values())
    hit = sum(w for name, w in weights.items() if name in covered)
    return {
        "warp_kernels": len(kernels),
        "warp_names": len(weights),
        "names_covered": sum(1 for name in weights if name in covered),
        "weighted_coverage": hit / total if total else 0.0,
        "kernels_covered": sum(names <= covered for names in kernels) / len(kernels) if kernels else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--gaps", type=int, default=20, metavar="N", help="heaviest uncovered names shown")
    args = parser.parse_args()
    if not args.dataset.exists():
        print(f"coverage: {args.dataset}: no such dataset", file=sys.stderr)
        return 2
    kernels = warp_kernel_names()
    covered = dataset_names(args.dataset)
    figures = coverage(kernels, covered)
    weights = Counter(name for names in kernels for name in names)
    gaps = [(name, w) for name, w in weights.most_common() if name not in covered][: args.gaps]
    print(
        f"{figures['warp_kernels']} Warp kernels call {figures['warp_names']} wp.* names; "
        f"{args.dataset} calls {figures['names_covered']} of them"
    )
    print(f"weighted coverage: {figures['weighted_coverage']:.1%}")
    print(f"Warp kernels whose calls are all covered: {figures['kernels_covered']:.1%}")
    if gaps:
        print("heaviest uncovered: " + ", ".join(f"{name} {w}" for name, w in gaps))
    if args.json:
        args.json.write_text(json.dumps(figures | {"gaps": dict(gaps)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
