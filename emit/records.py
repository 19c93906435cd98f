"""Sample -> dataset record: the JSON line a user reads.

A record is self-contained (the helper functions and structs the kernel's
code calls are in `code_helpers`) and true: `emit.lower.lower()` on its
`python_source` gives exactly its code fields, and `grammar.sample.sample()`
on its `metadata.seed` gives back its `python_source`.
"""

from __future__ import annotations

import ast
import hashlib
import json
from typing import Any

import warp_access
from emit.lower import HASH_SEED, MODULE_NAME, lower
from grammar.sample import Sample
from grammar.unparse import to_source
from warp_access import KernelCode

GENERATOR_VERSION = "0.5.0"
#: A run skips records larger than this by default (a training example of hundreds of KB is an
#: outlier); `--max-record-bytes` sets it.
MAX_RECORD_BYTES = 256 * 1024

#: Candidate `k` of a run with base seed `S` has seed `S * SEED_STRIDE + k`.
SEED_STRIDE = 2**32


def candidate_seed(base_seed: int, index: int) -> int:
    return base_seed * SEED_STRIDE + index


def candidate_of(seed: int) -> tuple[int, int]:
    """(base seed, candidate index) of a record's `metadata.seed`."""
    return divmod(seed, SEED_STRIDE)


def build_record(sample: Sample, device: str) -> dict[str, Any]:
    """The record of `sample` lowered for `device`."""
    source = to_source(sample.tree)
    code = lower(source, sample.kernel_name, device)
    return {
        "python_source": source,
        "code_forward": code.forward,
        "code_backward": code.backward,
        "code_helpers": code.helpers,
        "device": device,
        "kernel_name": sample.kernel_name,
        "kernel_type": sample.kernel_type,
        "metadata": {
            "seed": sample.seed,
            "warp_version": warp_access.warp_version(),
            "generator_version": GENERATOR_VERSION,
            "module_file": warp_access.source_file_name(MODULE_NAME),
            "codegen": codegen_metadata(device, code),
            "features": sample.features.as_list(),
            "builtins": sorted(sample.features.builtins),
            "types": sorted(sample.features.types),
            "policy_focus": sample.policy.focus,
            "source_sha1": sha1(source),
            "ast_shape_sha1": sha1(ast_shape(sample.tree)),
        },
    }


def codegen_metadata(device: str, code: KernelCode) -> dict[str, Any]:
    """What besides `python_source` and the Warp version decides the code: enough to re-lower a record.

    `kernel_options` are the kernel's own (`@wp.kernel(enable_backward=False)`), null where unset;
    `link_symbols` the MathDx device functions its CUDA code declares and links from LTO-IR that
    libmathdx generates when Warp builds the module (not part of the record, see docs/kernel-language.md).
    """
    kernel_options = dict(code.kernel_options)
    return {
        "cuda_arch": f"sm_{warp_access.CUDA_ARCH}" if device == "cuda" else None,
        "module_options": dict(code.module_options),
        "kernel_options": {name: kernel_options.get(name) for name in warp_access.KERNEL_OPTIONS},
        "link_symbols": list(code.link_symbols),
        "pythonhashseed": HASH_SEED,
    }


def encode(record: dict[str, Any]) -> bytes:
    """One JSONL line; the same record always encodes to the same bytes."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def ast_shape(tree: ast.AST) -> str:
    """The tree with identifiers and constants erased.

    Kernels that differ only in names and numbers have the same shape.
    """
    parts: list[str] = []
    append = parts.append

    # ast.iter_child_nodes, inlined: this runs once per record on every node
    def walk(node: ast.AST) -> None:
        append(type(node).__name__)
        if isinstance(node, ast.Attribute):
            append(node.attr if _is_wp(node.value) else "_")
        elif isinstance(node, ast.Constant):
            append(type(node.value).__name__)
        append("(")
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                walk(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        walk(item)
        append(")")

    walk(tree)
    return "".join(parts)


def _is_wp(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "wp"
