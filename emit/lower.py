"""Python source -> Warp's generated code, for one backend.

A record's code fields are exactly what `lower()` returns for its
`python_source`; the round-trip test relies on nothing else.
"""

from __future__ import annotations

import re

import warp_access
from warp_access import KernelCode

#: Every generated module is loaded under this one name, so Warp's `// file:line`
#: comments are the same whichever process, machine or worker lowers it.
MODULE_NAME = "kernel_module"

DEVICES = ("cpu", "cuda")

#: Warp 1.19.0's code can depend on the string hash seed
#: (docs/warp_findings/codegen_depends_on_hash_seed.py): records are lowered, and must be
#: re-lowered, in processes started with PYTHONHASHSEED set to this.
HASH_SEED = "0"


def lower(source: str, kernel_name: str, device: str) -> KernelCode:
    """Forward, backward and helper code Warp generates for `kernel_name` in `source`."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
    with warp_access.WarpModule(MODULE_NAME, source) as module:
        return module.kernel_code(kernel_name, device)


def error_summary(e: BaseException) -> str:
    """A Warp error on one line: its type and the end of its message (where Warp puts the cause)."""
    return re.sub(r"\s+", " ", f"{type(e).__name__}: {e}")[-500:]


def module_source(source: str, device: str) -> str:
    """The complete translation unit Warp would compile for `source` on `device`."""
    with warp_access.WarpModule(MODULE_NAME, source) as module:
        return module.module_source(device)
