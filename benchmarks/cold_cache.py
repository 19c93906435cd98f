"""A CUDA run from an empty Warp kernel cache against the same run with the cache warm.

    PYTHONPATH=. python benchmarks/cold_cache.py --count 150

Runs `python -m synth --device cuda --count N --workers 1 --seed S` twice with
`WARP_CACHE_PATH` set to one fresh, empty directory: first cold (nothing cached),
then warm (whatever the first run left there), each into an output folder of its
own.  It prints both wall times, their ratio (the goal is at most 1.2), how
many records link MathDx device functions (`link_symbols`: kernels whose lowering
would make libmathdx build LTO-IR when cold), how many candidates each run skipped
because their worker hung or died (a libmathdx build past the per-kernel timeout),
and whether the two datasets are byte-identical (they should be).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(cache: Path, out: Path, count: int, seed: int) -> float:
    """Seconds one `python -m synth` CUDA run takes with Warp's kernel cache in `cache`."""
    command = [sys.executable, "-m", "synth", "--device", "cuda", "--count", str(count)]
    command += ["--workers", "1", "--seed", str(seed), "--out", str(out)]
    environment = dict(os.environ, WARP_CACHE_PATH=str(cache))
    start = time.perf_counter()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def linking_records(out: Path) -> int:
    """Records of the dataset in `out` whose CUDA code links MathDx device functions."""
    with open(out / "dataset.jsonl") as f:
        return sum(bool(json.loads(line)["metadata"]["codegen"]["link_symbols"]) for line in f)


def worker_failed(out: Path) -> int:
    """Candidates the run in `out` skipped because their worker hung or died."""
    stats = json.loads((out / "stats.json").read_text())
    return stats["skipped"].get("worker_failed", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cold_cache_") as work:
        cache = Path(work) / "warp_cache"
        cold = timed_run(cache, Path(work) / "cold", args.count, args.seed)
        warm = timed_run(cache, Path(work) / "warm", args.count, args.seed)
        runs = {name: Path(work) / name for name in ("cold", "warm")}
        linking = linking_records(runs["cold"])
        failed = {name: worker_failed(out) for name, out in runs.items()}
        same = (runs["cold"] / "dataset.jsonl").read_bytes() == (runs["warm"] / "dataset.jsonl").read_bytes()
    print(f"cold {cold:.1f} s, warm {warm:.1f} s, cold/warm {cold / warm:.2f}")
    print(f"{linking} of {args.count} records link MathDx device functions")
    print(f"candidates skipped after worker failures: cold {failed['cold']}, warm {failed['warm']}")
    print(f"datasets byte-identical: {same}")


if __name__ == "__main__":
    main()
