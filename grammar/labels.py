"""The `kernel_type` label: one ordered table of rules over a kernel's AST features.

The label never depends on how a kernel was generated, only on what its AST
contains (`grammar.features`), so any Warp source can be labelled.  The
first rule that matches names the kernel.  `KERNEL_TYPES` and the list of rules in
`docs/records.md` (`tests/test_grammar_tables.py` checks it) are derived from `RULES`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from grammar.features import Features, extract_features


@dataclass(frozen=True)
class Rule:
    label: str
    matches: Callable[[Features], bool]
    text: str  # the rule as docs/records.md states it


#: Feature groups whose co-occurrence (three or more) makes a kernel "combined".
COMBINED_GROUPS = ("loop", "conditional", "math", "linalg", "atomic")


def _combined(f: Features) -> bool:
    return sum(bool(getattr(f, g)) for g in COMBINED_GROUPS) >= 3


RULES: tuple[Rule, ...] = (
    Rule("combined", _combined, "three or more of {loop, conditional, math, vector-or-matrix, atomic}"),
    Rule(
        "nested",
        lambda f: f.nesting >= 2,
        "control flow inside control flow (depth >= 2; an `elif` is a sibling, and "
        "`if c: break|continue|return` is a guard, not nesting)",
    ),
    Rule("atomic", lambda f: f.atomic, "a `wp.atomic_*` call, or `arr[i] += v` on an array"),
    Rule(
        "matrix",
        lambda f: f.matrix,
        "a matrix or spatial-matrix type, or a matrix builtin (`identity`, `outer`, `diag`, "
        "`skew`, `svd2`/`svd3`, `eig3`, `qr3`, `spatial_adjoint`)",
    ),
    Rule(
        "vector",
        lambda f: f.vector,
        "a vector, quaternion, transform or spatial-vector type or builtin (`wp.vec*`, "
        "`wp.quat*`, `wp.transform*`, `wp.spatial*`), or a geometry query (`wp.mesh_*`, `wp.bvh_*`, "
        "`wp.hash_grid_*`, `wp.volume_*`, `wp.texture_*`: points in, points and values out)",
    ),
    Rule(
        "multi_cond",
        lambda f: f.elif_chain or f.compound_condition,
        "an `elif` chain, `and`/`or`/`not`, or a chained comparison (not in the test of an early "
        "`if ...: return`, the bounds guard)",
    ),
    Rule("control_flow", lambda f: f.while_loop or f.break_continue, "a `while` loop, `break` or `continue`"),
    Rule("loop", lambda f: f.loop, "a `for` loop"),
    Rule("conditional", lambda f: f.conditional, "an `if` (an early `if ...: return` does not count)"),
    Rule(
        "math",
        lambda f: f.math,
        'a math builtin of Warp\'s "Scalar Math", "Utility" or "Random" groups (not `min`, '
        "`max`, `clamp`, `abs`, `sign`, `step`, `where` or conversions, which guards, indices and "
        "selections use), or a tile primitive (`tile_load`, `tile_map`, ...): a tile kernel is a math kernel",
    ),
    Rule("scalar_param", lambda f: f.scalar_param, "a non-array kernel parameter"),
    Rule("arithmetic", lambda f: True, "anything else"),
)

#: Every label, in decision-list order.
KERNEL_TYPES: tuple[str, ...] = tuple(r.label for r in RULES)


def kernel_type(f: Features) -> str:
    """The label of a kernel with features `f`: the first rule that matches."""
    return next(r.label for r in RULES if r.matches(f))


def markdown_rules() -> str:
    """The rules as docs/records.md's numbered list."""
    return "\n".join(f"{n}. `{r.label}`: {r.text}" for n, r in enumerate(RULES, 1))


def label_source(source: str) -> str:
    """`kernel_type` of Python source text."""
    return kernel_type(extract_features(ast.parse(source)))
