"""The role of each array a kernel takes, read off how the kernel's code uses it.

- `accumulator`: touched by an atomic (`wp.atomic_*`, `wp.tile_atomic_add`) or by
  `arr[i] += v` / `arr[i] -= v`, which Warp lowers to atomics: on a GPU its
  result depends on the order threads add in;
- `output`: stored into (`arr[i] = v`, `arr[i] *= v`, `arr[i][0] = v`, `wp.tile_store(arr, t)`);
- `input`: only read, or not used at all.

An array field of a struct parameter is named by its dotted path (`prm.vel`),
as `check.execute.Param` names it.  A whole array handed to anything else (a
`@wp.func` helper, another builtin) has no role this module can vouch for:
`UnknownRole`, so execution labels the kernel instead of guessing.
"""

from __future__ import annotations

import ast

INPUT, OUTPUT, ACCUMULATOR = "input", "output", "accumulator"
#: A stronger role wins when an array is used several ways.
_STRENGTH = {INPUT: 0, OUTPUT: 1, ACCUMULATOR: 2}
#: Calls taking a whole array as their first argument, by what they do to it (atomics: by prefix).
_ARRAY_CALLS = {"wp.tile_load": INPUT, "wp.tile_store": OUTPUT, "len": INPUT}
_ACCUMULATING_PREFIXES = ("wp.atomic_", "wp.tile_atomic_")
#: `arr[i] op= v` that Warp turns into an atomic.
_ATOMIC_AUGMENTED = (ast.Add, ast.Sub)


class UnknownRole(Exception):
    """A kernel hands a whole array to a call this module does not know the effect of."""


def array_roles(kernel_source: str, arrays: set[str]) -> dict[str, str]:
    """The role of each of `arrays` (dotted names) in the `@wp.kernel` function `kernel_source`."""
    roles = dict.fromkeys(arrays, INPUT)

    def mark(name: str | None, role: str) -> None:
        if name is not None and _STRENGTH[role] > _STRENGTH[roles[name]]:
            roles[name] = role

    for node in ast.walk(ast.parse(kernel_source)):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for element in _unpacked(target):
                    mark(_array_of(element, arrays), OUTPUT)
        elif isinstance(node, ast.AugAssign):
            role = ACCUMULATOR if isinstance(node.op, _ATOMIC_AUGMENTED) else OUTPUT
            mark(_array_of(node.target, arrays), role)
        elif isinstance(node, ast.Call):
            mark(*_call_role(node, arrays))
    return roles


def _call_role(node: ast.Call, arrays: set[str]) -> tuple[str | None, str]:
    """(array, role) for a call taking one whole array as its first argument ((None, input) for a call
    taking none); `UnknownRole` for other calls taking a whole array."""
    whole = [_dotted(a) for a in (*node.args, *(k.value for k in node.keywords)) if _dotted(a) in arrays]
    if not whole:
        return None, INPUT
    callee = ast.unparse(node.func)
    first = len(whole) == 1 and bool(node.args) and _dotted(node.args[0]) == whole[0]
    if first and callee.startswith(_ACCUMULATING_PREFIXES):
        return whole[0], ACCUMULATOR
    if first and callee in _ARRAY_CALLS:
        return whole[0], _ARRAY_CALLS[callee]
    raise UnknownRole(f"array {whole[0]} passed whole to {callee}: its role is unknown")


def _unpacked(target: ast.expr) -> list[ast.expr]:
    """The store targets of an assignment target (tuple unpacking included)."""
    if isinstance(target, ast.Tuple | ast.List):
        return [t for element in target.elts for t in _unpacked(element)]
    return [target]


def _array_of(target: ast.AST, arrays: set[str]) -> str | None:
    """The array a store target writes into (`arr[i]`, `arr[i][0]`, `arr[i].x`, `prm.vel[i]`), if any."""
    node = target
    while isinstance(node, ast.Subscript | ast.Attribute):
        if isinstance(node, ast.Subscript) and _dotted(node.value) in arrays:
            return _dotted(node.value)
        node = node.value
    return None


def _dotted(node: ast.AST) -> str | None:
    """`name` or `a.b.c` for a name or an attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None
