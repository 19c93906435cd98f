"""Throughput: our per-record path against Warp's own codegen, and the pipeline's scaling.

    PYTHONHASHSEED=0 PYTHONPATH=. python benchmarks/bench_throughput.py --seeds 300 --count 600

Part 1, per kernel and per device, interleaved on the same seeds (A then B, B then
A on the next seed, so machine noise hits both alike):
  (a) Warp alone: load the generated module into Warp and run its codegen for the
      device (`WarpModule.module_source`), the floor any generator pays;
  (b) our full per-record path: sample -> unparse -> label -> lower -> encode -> write.
It prints the ratio b/a (the goal is at most 1.25).

Part 2, the pipeline: records/s and MB/s of `--workers 1` and `--workers 2` runs,
interleaved (1, 2, 1, 2), and the speed-up of 2 workers over 1.  "steady" rates
are measured between the first and last checkpoint, so process start-up is excluded;
"overall" rates are stats.json's (start-up included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import warp_access
from emit.lower import MODULE_NAME
from emit.records import build_record, encode
from grammar.sample import sample
from grammar.unparse import to_source
from synth.pipeline import Run, RunConfig, init_worker

WARMUP_SEEDS = 5


def warp_alone(source: str, device: str) -> None:
    with warp_access.WarpModule(MODULE_NAME, source) as module:
        module.module_source(device)


def full_path(seed: int, device: str, out) -> None:
    out.write(encode(build_record(sample(seed), device)))


def lowerable_sources(seeds: range, device: str) -> dict[int, str]:
    """Seeds whose kernel Warp lowers (a failing one is counted by the pipeline, not timed here)."""
    sources = {}
    for seed in seeds:
        source = to_source(sample(seed).tree)
        try:
            warp_alone(source, device)
        except Exception:
            continue
        sources[seed] = source
    return sources


def per_kernel(seeds: int, device: str) -> dict[str, float]:
    sources = lowerable_sources(range(seeds + WARMUP_SEEDS), device)
    times = {"a": 0.0, "b": 0.0}
    with tempfile.TemporaryFile() as out:
        for n, (seed, source) in enumerate(sources.items()):
            runs = {"a": partial(warp_alone, source, device), "b": partial(full_path, seed, device, out)}
            for key in ("a", "b") if n % 2 else ("b", "a"):
                t = time.perf_counter()
                runs[key]()
                if seed >= WARMUP_SEEDS:
                    times[key] += time.perf_counter() - t
    kernels = sum(1 for s in sources if s >= WARMUP_SEEDS)
    return {
        "kernels": kernels,
        "warp_ms": 1e3 * times["a"] / kernels,
        "ours_ms": 1e3 * times["b"] / kernels,
        "ratio": times["b"] / times["a"],
    }


def pipeline_run(device: str, workers: int, count: int) -> dict[str, float]:
    marks: list[tuple[int, int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(device=device, out=Path(tmp), count=count, workers=workers, fresh=True)
        stats = Run(config, report=lambda p, s: marks.append((p.records, p.bytes, s))).execute()
    (r0, b0, t0), (r1, b1, t1) = marks[0], marks[-1]
    return {
        "records_per_s": (r1 - r0) / (t1 - t0),
        "mb_per_s": (b1 - b0) / (t1 - t0) / 1e6,
        "overall_records_per_s": stats["records_per_s"],
        "overall_mb_per_s": stats["mb_per_s"],
        "bytes_per_record": stats["bytes_per_record"],
    }


def scaling(device: str, count: int, rounds: int) -> None:
    results: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for _ in range(rounds):
        for workers in (1, 2):
            results[workers].append(pipeline_run(device, workers, count))
    for workers, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"  workers={workers}: steady {med['records_per_s']:.1f} records/s {med['mb_per_s']:.2f} MB/s; "
            f"overall {med['overall_records_per_s']:.1f} records/s {med['overall_mb_per_s']:.2f} MB/s; "
            f"{med['bytes_per_record']:.0f} B/record (median of {rounds})"
        )
    pairs = zip(results[1], results[2], strict=True)
    ratios = [round(two["records_per_s"] / one["records_per_s"], 3) for one, two in pairs]
    # other users of a shared machine only ever slow a run down: the best run is the least disturbed
    best = {w: max(r["records_per_s"] for r in runs) for w, runs in results.items()}
    print(
        f"  2 workers / 1 worker records/s (steady): median {statistics.median(ratios):.2f} "
        f"(per round {ratios}), best-of-{rounds} {best[2] / best[1]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300, help="kernels timed per device (part 1)")
    parser.add_argument("--count", type=int, default=600, help="records per pipeline run (part 2)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved 1-vs-2-worker rounds")
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    if sys.flags.hash_randomization:
        sys.exit("run with PYTHONHASHSEED=0 (as the pipeline's workers do)")
    init_worker()  # this process times both (a) and (b) as a pipeline worker runs
    print(f"warp {warp_access.warp_version()}, {os.cpu_count()} cores")
    for device in args.devices.split(","):
        r = per_kernel(args.seeds, device)
        print(
            f"{device}: per kernel over {r['kernels']} kernels: Warp alone {r['warp_ms']:.2f} ms, "
            f"ours end-to-end {r['ours_ms']:.2f} ms, ratio {r['ratio']:.3f}"
        )
        if not args.skip_pipeline:
            scaling(device, args.count, args.rounds)


if __name__ == "__main__":
    main()
