"""A fault that strikes once: shared by the faulty commands of the tests (tests/faulty_*.py)."""

import os
from pathlib import Path


def first_time() -> bool:
    """Whether a fault strikes now: always, or with SYNTH_FAULT_ONCE=PATH only the first time (PATH
    records it)."""
    once = os.environ.get("SYNTH_FAULT_ONCE")
    if once is None:
        return True
    try:
        Path(once).touch(exist_ok=False)
    except FileExistsError:
        return False
    return True
