"""Do outputs depend on inputs when run? (`check/sensitivity.py` says how it is measured.)

    PYTHONHASHSEED=0 PYTHONPATH=. python benchmarks/sensitivity.py [--seeds N] [--differentiable]

Prints the share of output arrays of the kernels of seeds 0..N-1 that new inputs change, the share
of kernels all of whose outputs do, and the seeds of the others (to read).
"""

from __future__ import annotations

import argparse
import sys

import warp_access
from check.sensitivity import measure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--differentiable", action="store_true", help="the fuzzer's differentiable policy")
    args = parser.parse_args()
    warp_access.init_warp()
    share, kernels, hollow = measure(range(args.seeds), args.differentiable)
    print(
        f"{kernels} kernels run: sensitive outputs {share:.3f}, kernels with every output sensitive "
        f"{1 - len(hollow) / kernels:.3f}"
    )
    print(f"seeds with an insensitive output: {hollow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
