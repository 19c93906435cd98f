"""`python -m synth fuzz` whose workers are killed on one group: for tests/test_fuzz_cli.py only.

    SYNTH_FAULT=kill@START PYTHONPATH=. python tests/faulty_fuzz.py fuzz --workers 2 ARGS...

The worker given the group that starts at candidate START SIGKILLs itself (as the OS's OOM
killer would) at its first heartbeat, holding the group.  With SYNTH_FAULT_ONCE=PATH it does
so only the first time (PATH records it).

Nothing here is imported by warp-synth.  The run's workers are given this module's
`check_group` as their work, so each imports this module.
"""

import os
import signal
import sys

from check.fuzz import campaign
from check.supervisor import Beat
from synth import cli
from tests.fault_once import first_time

_kind, _, _start = os.environ.get("SYNTH_FAULT", "").partition("@")
_check_group = campaign.check_group


def _strikes(lo: int) -> bool:
    return _kind == "kill" and str(lo) == _start and first_time()


def check_group(checks: campaign.Checks, base_seed: int, lo: int, hi: int, beat: Beat) -> list:
    """The fuzzer's work, in a worker that dies at its first heartbeat on the faulty group."""

    def faulty(what: str, steps: int) -> None:
        beat(what, steps)
        if _strikes(lo):
            os.kill(os.getpid(), signal.SIGKILL)

    return _check_group(checks, base_seed, lo, hi, faulty)


if __name__ == "__main__":
    from tests import faulty_fuzz  # this file as a module, as the workers import it

    campaign.check_group = faulty_fuzz.check_group
    sys.exit(cli.main())
