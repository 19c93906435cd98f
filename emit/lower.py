"""Python source -> Warp's generated code, for one backend.

A record's code fields are exactly what `lower()` returns for its
`python_source`; the round-trip test relies on nothing else.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cached_property

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


@dataclass(frozen=True)
class Kernel:
    """A kernel as it travels between stages: its module's source and its name, parsed once (`tree`)
    and lowered once per device (`code`: Warp's error, if it raised one, is raised again each time).

    Pickled, it is its source and name (a process that needs its tree or code makes them again)."""

    source: str
    name: str
    _code: dict[str, KernelCode | Exception] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def tree(self) -> ast.Module:
        """The module's parse tree: shared, so a caller that changes it works on a copy."""
        return ast.parse(self.source)

    @property
    def definition(self) -> ast.FunctionDef:
        """The kernel's own `def`."""
        return next(s for s in self.tree.body if isinstance(s, ast.FunctionDef) and s.name == self.name)

    def code(self, device: str) -> KernelCode:
        """Warp's code for the kernel on `device` (see `lower`)."""
        if device not in self._code:
            try:
                self._code[device] = lower(self.source, self.name, device)
            except Exception as e:
                self._code[device] = e
        found = self._code[device]
        if isinstance(found, Exception):
            raise found
        return found

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return Kernel, (self.source, self.name)


def error_summary(e: BaseException) -> str:
    """A Warp error on one line: its type and the end of its message (where Warp puts the cause)."""
    return re.sub(r"\s+", " ", f"{type(e).__name__}: {e}")[-500:]


def module_source(source: str, device: str) -> str:
    """The complete translation unit Warp would compile for `source` on `device`."""
    with warp_access.WarpModule(MODULE_NAME, source) as module:
        return module.module_source(device)
