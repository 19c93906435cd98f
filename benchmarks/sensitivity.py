"""Do outputs depend on inputs when run? (`benchmarks/measures/sensitivity.py` says how it is measured.)

    PYTHONHASHSEED=0 PYTHONPATH=. python benchmarks/sensitivity.py [--seeds N] [--differentiable]
    PYTHONHASHSEED=0 PYTHONPATH=. python benchmarks/sensitivity.py --dataset data.jsonl [--seeds N]

The figures are given for every kernel run, and for the plain ones (arrays and scalars only: no
struct, no mesh or volume ...), the kernels the issue's figures were measured on.

Prints, for the kernels of seeds 0..N-1 (or the first N records of a dataset), the three figures
(output sensitivity, input influence, element sensitivity), the median and p90 size of their
source, and the seeds of kernels with an output no new input changes or an input that changes
no output (to read).
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import islice
from pathlib import Path

import numpy as np

import warp_access
from benchmarks.measures.sensitivity import Figures, measure_sources
from grammar.sample import sample
from grammar.unparse import to_source


def _from_seeds(n: int, differentiable: bool) -> list[tuple[str, str, int]]:
    samples = [sample(seed, differentiable=differentiable) for seed in range(n)]
    return [(to_source(s.tree), s.kernel_name, s.seed) for s in samples]


def _from_dataset(path: Path, n: int) -> list[tuple[str, str, int]]:
    with path.open() as f:
        records = [json.loads(line) for line in islice(f, n)]
    return [(r["python_source"], r["kernel_name"], r["metadata"]["seed"]) for r in records]


def report(figures: Figures, sources: list[tuple[str, str, int]]) -> str:
    sizes = [len(s.encode()) for s, _, _ in sources]  # of every source asked
    lines = [
        f"{figures.kernels} of {len(sources)} kernels run",
        *(f"{name:>8}: {figures.share(name):.3f} of {figures.counts[name][1]}" for name in figures.counts),
        f"python_source bytes: median {np.median(sizes):.0f}, p90 {np.percentile(sizes, 90):.0f}",
        f"seeds with an output no new input changes: {figures.hollow}",
        f"seeds with an input that changes no output: {figures.deaf}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--differentiable", action="store_true", help="the fuzzer's differentiable policy")
    parser.add_argument("--dataset", type=Path, help="measure a dataset's first records instead")
    args = parser.parse_args()
    warp_access.init_warp()
    if args.dataset:
        sources = _from_dataset(args.dataset, args.seeds)
    else:
        sources = _from_seeds(args.seeds, args.differentiable)
    every, plain = Figures(), Figures(plain_only=True)
    measure_sources(sources, every, plain)
    print(f"every kernel:\n{report(every, sources)}\n\nplain kernels:\n{report(plain, sources)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
