"""Compile records' exact code, many per translation unit, and find the ones at fault.

Compiling costs seconds per translation unit, most of it fixed (headers), so
records are compiled in batches: Warp's preamble once, then each record's
`code_helpers + code_forward + code_backward` wrapped in a namespace of its
own (helper names such as `mix_0` repeat between records; kernel entry points
carry a content hash and do not).  A failing batch is bisected down to the
records at fault.  What is compiled is the records' own text, not a re-lowering.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from functools import cache

import warp_access
from emit.lower import lower, module_source
from warp_access import KernelCode

#: A kernel whose preamble defines the translation unit's headers and macros (for a block size:
#: the module header defines it, and tile code is written for it).
_PREAMBLE_PROBE = """import warp as wp
wp.set_module_options({{"block_dim": {block_dim}}})

@wp.kernel
def probe(a: wp.array(dtype=float)):
    i = wp.tid()
    a[i] = 1.0
"""


class CompileError(Exception):
    """The toolchain rejected a translation unit."""


#: The module block size of code that does not say (Warp's default).
DEFAULT_BLOCK_DIM = 256


@cache
def preamble(device: str, block_dim: int = DEFAULT_BLOCK_DIM) -> str:
    """Warp's headers and macros that precede generated code in every translation unit."""
    probe = _PREAMBLE_PROBE.format(block_dim=block_dim)
    full = module_source(probe, device)
    forward = lower(probe, "probe", device).forward
    return full[: full.index(forward[:120])]


def block_dim(code: KernelCode) -> int:
    """The block size the code was generated for (its module's `block_dim`)."""
    return dict(code.module_options).get("block_dim", DEFAULT_BLOCK_DIM)


#: Warp's preamble defines this unless the module's code spells `bfloat16` (Warp's own rule, in
#: `ModuleBuilder.codegen`: the bfloat16 overloads cost compile time); the probe's preamble has it.
_NO_BFLOAT16 = "#define WP_NO_BFLOAT16\n"


def translation_unit(codes: Sequence[KernelCode], device: str) -> str:
    """One compilable unit holding every record's code (all for one block size), each in its own namespace."""
    head = preamble(device, block_dim(codes[0]) if codes else DEFAULT_BLOCK_DIM)
    if any("bfloat16" in code.helpers + code.forward + (code.backward or "") for code in codes):
        head = head.replace(_NO_BFLOAT16, "", 1)
    parts = [head]
    for n, code in enumerate(codes):
        parts.append(f"namespace wp_synth_{n} {{\n{code.helpers}{code.forward}{code.backward or ''}\n}}\n")
    return "".join(parts)


#: Entry points have C linkage, so namespaces do not separate them.
_ENTRY_POINT = re.compile(r'(?:WP_API void|extern "C" __global__ void)\s+(\w+)\(')


def _entry_points(code: KernelCode) -> set[str]:
    return set(_ENTRY_POINT.findall(code.forward + (code.backward or "")))


def _unit_batches(codes: Sequence[KernelCode]) -> list[list[KernelCode]]:
    """Split `codes` so no translation unit defines an entry point twice, or mixes block sizes.

    Two records with the same kernel (same name and content hash) would clash.
    """
    batches: list[tuple[list[KernelCode], set[str]]] = []
    for code in codes:
        names = _entry_points(code)
        for batch, taken in batches:
            if taken.isdisjoint(names) and block_dim(batch[0]) == block_dim(code):
                batch.append(code)
                taken |= names
                break
        else:
            batches.append(([code], names))
    return [batch for batch, _ in batches]


def compile_codes(codes: Sequence[KernelCode], device: str, optimization_level: int = 0) -> None:
    """Compile `codes` with Warp's toolchain, few units; raise CompileError with the compiler's message."""
    for batch in _unit_batches(codes):
        with tempfile.TemporaryDirectory(prefix="warp_synth_") as work_dir:
            try:
                warp_access.compile_source(
                    translation_unit(batch, device), device, work_dir, optimization_level=optimization_level
                )
            except Exception as e:
                raise CompileError(str(e).strip()[-2000:]) from None


def failing(codes: Sequence[KernelCode], device: str) -> dict[int, str]:
    """The codes that do not compile, by index, with the compiler's message.

    One compile if all do, bisection otherwise.  What the compiler prints is kept
    off the terminal; for a failing record it is part of the returned message.
    """

    def search(indices: list[int]) -> dict[int, str]:
        printed: list[str] = []
        try:
            with warp_access.native_output_silenced(1, 2, into=printed):
                compile_codes([codes[i] for i in indices], device)
            return {}
        except CompileError as e:
            if len(indices) == 1:
                return {indices[0]: f"{e}\n{''.join(printed).strip()[:2000]}".strip()}
            mid = len(indices) // 2
            return search(indices[:mid]) | search(indices[mid:])

    return search(list(range(len(codes)))) if codes else {}


def record_code(record: dict) -> KernelCode:
    """A record's exact code fields (and the module options they were generated under), as compiled
    by `compile_codes`."""
    options = tuple(record["metadata"]["codegen"]["module_options"].items())
    return KernelCode(record["code_forward"], record["code_backward"], record["code_helpers"], options)
