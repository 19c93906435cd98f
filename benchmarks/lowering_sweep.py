"""Every sampled kernel lowers on both backends and its code compiles: a sweep over seeds.

    PYTHONHASHSEED=0 PYTHONPATH=. python benchmarks/lowering_sweep.py [--seeds 600] [--differentiable]

For each seed: `grammar.sample.sample(seed)` (or under the differentiable policy),
lowered with Warp for CPU and CUDA; then every device's code is compiled with Warp's
toolchain (`check.compile.failing`, batched and bisected).  Prints the counts and the
first failures, exits 1 if any.
"""

from __future__ import annotations

import argparse
import sys

import warp_access
from check.compile import failing
from emit.lower import DEVICES, error_summary, lower
from grammar.sample import sample
from grammar.unparse import to_source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=600)
    parser.add_argument("--differentiable", action="store_true")
    args = parser.parse_args()
    warp_access.init_warp()
    codes: dict[str, list] = {d: [] for d in DEVICES}
    failures = []
    for seed in range(args.seeds):
        s = sample(seed, args.differentiable)
        source = to_source(s.tree)
        for device in DEVICES:
            try:
                codes[device].append((seed, lower(source, s.kernel_name, device)))
            except Exception as e:
                failures.append(f"seed {seed} {device} codegen: {error_summary(e)}")
    for device in DEVICES:
        for n, message in failing([code for _, code in codes[device]], device).items():
            failures.append(f"seed {codes[device][n][0]} {device} compile: {message[-300:]}")
    policy = "differentiable" if args.differentiable else "default"
    lowered = {d: len(c) for d, c in codes.items()}
    print(f"{args.seeds} seeds, {policy} policy: lowered {lowered}, {len(failures)} failure(s)")
    for line in failures[:10]:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
