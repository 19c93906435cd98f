"""The figures a dataset card states, gathered in one streaming pass over dataset.jsonl.

Shared by the card (`synth.card`), its plots (`synth.plots`) and `python -m synth stats`,
so the three never disagree.  Memory: a few integers per record (sizes, for
percentiles and plots) and counters; records themselves are not kept.
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import warp_access
from synth.dataset import DEFAULT_RATIOS, SPLITS, Dataset, split_of

#: Sizes (UTF-8 bytes) the card gives percentiles of; `record` is the whole JSONL line.
SIZE_FIELDS = ("python_source", "code_forward", "code_backward", "code_helpers", "record")
PERCENTILES = (0, 10, 50, 90, 99, 100)
#: Family of `wp.*` names that are no registry builtin (type constructors, `wp.constant`).
CONSTRUCTORS = "Constructors and constants"
#: How `ast.unparse` (`grammar.unparse`) spells each Python operator, by the registry builtin Warp
#: lowers it to: binary and augmented ones between spaces, unary ones against their operand.  A minus
#: sign on a number literal (`-1.0`, not `1e-05`) is part of the literal: Warp folds it.
OPERATOR_SPELLINGS: dict[str, str] = {
    "add": r" \+=? ",
    "sub": r" -=? ",
    "mul": r" \*=? ",
    "div": r" /=? ",
    "floordiv": r" //=? ",
    "mod": r" %=? ",
    "bit_and": r" &=? ",
    "bit_or": r" \|=? ",
    "bit_xor": r" \^=? ",
    "lshift": r" <<=? ",
    "rshift": r" >>=? ",
    "neg": r"(?<![\w.)\]])-(?![\d\s.=>])",
    "pos": r"(?<![\w.)\]])\+(?![\s=])",
    "invert": r"~",
    "unot": r"\bnot\b",
}
_OPERATORS = re.compile(  # the lookahead skips, fast, the places no spelling starts at
    "(?=[ ~n+-])(?:"
    + "|".join(f"(?P<{name}>{spelling})" for name, spelling in OPERATOR_SPELLINGS.items())
    + ")"
)


@dataclass
class Summary:
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    records: int = 0
    bytes: int = 0
    kernel_types: Counter = field(default_factory=Counter)
    devices: Counter = field(default_factory=Counter)
    base_seeds: Counter = field(default_factory=Counter)  # the run's base seed: metadata.seed >> 32
    families: Counter = field(default_factory=Counter)  # records calling a builtin of the family
    family_builtins: dict[str, set[str]] = field(default_factory=dict)  # distinct builtins seen
    builtins: Counter = field(default_factory=Counter)  # metadata.builtins: `wp.*` call names
    types: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    split_bytes: Counter = field(default_factory=Counter)
    no_backward: int = 0  # records whose code_backward is null
    provenance: Counter = field(default_factory=Counter)  # distinct versions and fixed codegen, as JSON
    options: Counter = field(default_factory=Counter)  # (module_options|kernel_options, name, JSON value)
    sizes: dict[str, array] = field(default_factory=lambda: {f: array("q") for f in SIZE_FIELDS})

    def add(self, line: bytes, record: dict[str, Any], groups: dict[str, str]) -> str:
        """Count one record (`groups`: builtin -> family); its split."""
        meta = record["metadata"]
        self.records += 1
        self.bytes += len(line)
        self.kernel_types[record["kernel_type"]] += 1
        self.devices[record["device"]] += 1
        self.base_seeds[meta["seed"] >> 32] += 1
        self.builtins.update(meta["builtins"])
        self.types.update(meta["types"])
        families = set()
        for name in {*meta["builtins"], *operators(record["python_source"])}:
            family = groups.get(name, CONSTRUCTORS)
            families.add(family)
            self.family_builtins.setdefault(family, set()).add(name)
        self.families.update(families)
        split = split_of(meta["ast_shape_sha1"], self.ratios)
        self.splits[split] += 1
        self.split_bytes[split] += len(line)
        self.no_backward += record["code_backward"] is None
        self.provenance[json.dumps(_provenance(meta), sort_keys=True)] += 1
        codegen = meta["codegen"]
        for scope in ("module_options", "kernel_options"):
            self.options.update(
                (scope, k, json.dumps(v)) for k, v in (codegen.get(scope) or {}).items() if v is not None
            )
        for name in SIZE_FIELDS[:-1]:
            self.sizes[name].append(len((record[name] or "").encode()))
        self.sizes["record"].append(len(line))
        return split

    def percentiles(self, name: str) -> list[int]:
        """Percentiles `PERCENTILES` of a size; code_backward's leave out records without one."""
        values = np.frombuffer(self.sizes[name], dtype=np.int64)
        if name == "code_backward":
            values = values[values > 0]
        if not len(values):
            return [0] * len(PERCENTILES)
        return [int(v) for v in np.percentile(values, PERCENTILES, method="nearest")]

    def code_sizes(self) -> np.ndarray:
        """Generated code per record: forward + backward + helpers (bytes)."""
        return sum(np.frombuffer(self.sizes[f], dtype=np.int64) for f in SIZE_FIELDS[1:4])

    def split_rows(self) -> list[tuple[str, int, int]]:
        return [(name, self.splits[name], self.split_bytes[name]) for name in SPLITS]


def _provenance(meta: dict[str, Any]) -> dict[str, Any]:
    """What every record of a run shares: versions, module file, CUDA target, hash seed (the options,
    drawn per kernel, are counted apart)."""
    fixed = {k: v for k, v in meta["codegen"].items() if k in ("cuda_arch", "pythonhashseed")}
    return {k: meta[k] for k in ("warp_version", "generator_version", "module_file")} | {"codegen": fixed}


def operators(source: str) -> set[str]:
    """Registry builtins that the Python operators in `source` call (`metadata.builtins` holds only
    `wp.*` names).  Read off the text, not its AST: parsing every record would cost a run's card
    several times its other figures."""
    return {match.lastgroup for match in _OPERATORS.finditer(source) if match.lastgroup}


def registry_coverage() -> dict[str, int]:
    """Builtins per family (registry group) in the installed Warp's registry."""
    return dict(Counter(warp_access.builtin_groups().values()))


def summarize(dataset: Dataset, ratios: tuple[float, ...] = DEFAULT_RATIOS) -> Summary:
    summary = Summary(ratios=ratios)
    groups = warp_access.builtin_groups()
    for _, line, record in dataset.records():
        summary.add(line, record, groups)
    return summary
