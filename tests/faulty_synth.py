"""`python -m synth` whose workers meet a fault at one candidate: for tests/test_faults.py only.

    SYNTH_FAULT=KIND@INDEX PYTHONHASHSEED=0 PYTHONPATH=. python tests/faulty_synth.py ARGS...

The worker that lowers candidate INDEX (of any base seed; `*`: every candidate):
  kill  SIGKILLs itself (as the OS's OOM killer would);
  segv  dereferences a null pointer (a segfault in native code);
  hang  sleeps forever (a lowering that never ends);
  gate  waits until the file SYNTH_FAULT_GATE exists (holds the run mid-way, so a
        test can change the output directory under it), then goes on normally.
With SYNTH_FAULT_ONCE=PATH, the fault strikes only the first time (PATH records it).

Nothing here is imported by warp-synth.  The run's workers are given this
module's `worker_chunk` as their work, so each imports this module, which
installs the fault in it.
"""

import ctypes
import os
import resource
import signal
import sys
import time
from pathlib import Path

from emit.records import candidate_of
from synth import cli, pipeline
from tests.fault_once import first_time


def _segfault() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the test's directory
    ctypes.string_at(0)


def _gate() -> None:
    while not Path(os.environ["SYNTH_FAULT_GATE"]).exists():
        time.sleep(0.05)


FAULTS = {
    "kill": lambda: os.kill(os.getpid(), signal.SIGKILL),
    "segv": _segfault,
    "hang": lambda: time.sleep(10**6),
    "gate": _gate,
}

_kind, _, _index = os.environ.get("SYNTH_FAULT", "").partition("@")
_build_record, _worker_chunk = pipeline.build_record, pipeline.worker_chunk


def _strikes(seed: int) -> bool:
    return bool(_kind) and _index in ("*", str(candidate_of(seed)[1])) and first_time()


def faulty_build_record(sample, device):
    if _strikes(sample.seed):
        FAULTS[_kind]()
    return _build_record(sample, device)


def worker_chunk(*args, **kwargs):
    """The pipeline's work, in a worker that imported this module (and so has the fault)."""
    return _worker_chunk(*args, **kwargs)


if __name__ == "__main__":
    from tests import faulty_synth  # this file as a module, as the workers import it

    pipeline.worker_chunk = faulty_synth.worker_chunk
    sys.exit(cli.main())
else:
    pipeline.build_record = faulty_build_record
