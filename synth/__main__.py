"""`python -m synth` (and the `warp-synth` script).

Warp 1.19's generated code can depend on the string hash seed
(docs/warp_findings/codegen_depends_on_hash_seed.py), so the command runs with
PYTHONHASHSEED=0, re-executing itself if started otherwise: the same seed then
gives the same bytes in every process, and the (spawned) workers inherit it.
"""

import os
import sys


def run() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "synth", *sys.argv[1:]])
    try:
        from synth.cli import main
    except KeyboardInterrupt:  # Ctrl-C while starting up: nothing was written yet
        print("synth: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())


if __name__ == "__main__":
    run()
