"""Known Warp bugs (reproducers in docs/warp_findings/), recognised by signature.

The fuzzer reports a finding that matches a signature as `known: <name>`, apart
from new ones, and known findings do not fail a run.  A signature is the finding's
kind and one of: a predicate on the kernel's module (the shape of code the bug needs,
read from the AST), or a pattern on the failure's message (the compiler's words the
reproducer quotes).  Each is as narrow as its reproducer shows the bug to be: a wider
one would hide new bugs behind old names.

Not matched, because the message alone cannot tell them from a new bug: the
conversion bugs `cast_mutates_unrolled_loop_var` and `cast_retypes_constant` (a
generic "Couldn't find function overload"), and `codegen_depends_on_hash_seed`
(no check of the fuzzer can fail from it).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from grammar.astnodes import wp_name

#: Components a store into a local vector names (`v.x = ...`).
_COMPONENTS = frozenset("xyzw")


def _unused_tile_transpose(tree: ast.Module) -> bool:
    """`t = wp.tile_transpose(...)` with `t` never read (unused_tile_transpose_gradient.py)."""
    for func in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        read = {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        for node in ast.walk(func):
            transposed = isinstance(node, ast.Assign) and _calls(node.value, "tile_transpose")
            if transposed and any(isinstance(t, ast.Name) and t.id not in read for t in node.targets):
                return True
    return False


def _component_store_into_local(tree: ast.Module) -> bool:
    """`v[2] = ...` or `v.x = ...` on a local variable, not a parameter (vector_component_store_gradient.py;
    a matrix element store `M[i, j] = ...` is not what the reproducer shows)."""
    for func in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        params = {a.arg for a in func.args.args}
        for node in ast.walk(func):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                component = (isinstance(t, ast.Subscript) and not isinstance(t.slice, ast.Tuple)) or (
                    isinstance(t, ast.Attribute) and t.attr in _COMPONENTS
                )
                if component and isinstance(t.value, ast.Name) and t.value.id not in params:
                    return True
    return False


def _calls(node: ast.expr, builtin: str) -> bool:
    return isinstance(node, ast.Call) and wp_name(node.func) == builtin


@dataclass(frozen=True)
class Known:
    """A known bug: `name` is its reproducer's file in docs/warp_findings/ (without `.py`)."""

    name: str
    kind: str  # the finding kind it shows as (check.kinds.KINDS)
    code: Callable[[ast.Module], bool] | None = None  # true for modules with the code the bug needs
    message: str | None = None  # a regular expression found in the failure's message

    def matches(self, kind: str, tree: ast.Module, message: str) -> bool:
        if kind != self.kind:
            return False
        if self.code is not None and not self.code(tree):
            return False
        return self.message is None or re.search(self.message, message) is not None


#: The signature table: the first that matches names a finding.
KNOWN = (
    Known("unused_tile_transpose_gradient", "gradient", code=_unused_tile_transpose),
    Known("vector_component_store_gradient", "gradient", code=_component_store_into_local),
    Known("bool_to_half", "compile", message=r"'float16' \(aka 'half'\) to 'bool'|from wp::float16 to bool"),
    Known("random_state_constant", "compile", message=r"'const wp::uint32' drops 'const' qualifier"),
    Known("chained_compare_array_last", "compile", message=r"Cannot chain comparisons of unequal types"),
)


def known_as(kind: str, source: str, message: str) -> str | None:
    """The name of the known bug a finding (its kind, kernel module and message) matches, or None."""
    tree = ast.parse(source)
    return next((k.name for k in KNOWN if k.matches(kind, tree, message)), None)
