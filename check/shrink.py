"""Shrinking a failure to a minimal kernel: Hypothesis first, then statement deletion.

A failure found from a seed is a failure *class* (compile, crash, gradient,
...).  `shrink` asks Hypothesis for a kernel of the grammar
(`grammar.strategies.kernels()`) that shows the same class and lets it shrink
that one: decisions move towards fewer statements, switched-off features and
the first option of every choice.  Hypothesis' shrinker is thorough but each
try draws a whole module, so its time is bounded and `reduce` finishes the job:
it deletes statements and unused helpers one at a time while the module still
lowers with Warp and still fails (delta debugging, as C-Reduce does).  If
Hypothesis meets no kernel of the class, the original kernel is reduced.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
from collections.abc import Callable, Iterator
from dataclasses import replace

from check import execute
from check.findings import Finding
from emit.lower import lower
from grammar.strategies import DrawnKernel, kernels

#: Kernels Hypothesis may try while searching for a failure ...
MAX_EXAMPLES = 60
#: ... and seconds it may spend shrinking one (each try may cost a Warp compile).
SHRINK_SECONDS = 60

Fails = Callable[[DrawnKernel], bool]


def shrink(
    fails: Fails, max_examples: int = MAX_EXAMPLES, seconds: float = SHRINK_SECONDS, focus: str | None = None
) -> DrawnKernel | None:
    """The smallest kernel (aimed at `focus`) Hypothesis finds for which `fails` holds, or None.

    Hypothesis has no public limit on shrinking time (its own is 300 s), so the
    pinned version's engine constant is lowered meanwhile; its report of the cut
    short shrink is not printed.
    """
    from unittest import mock

    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import HypothesisException
    from hypothesis.internal.conjecture import engine

    config = settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    try:
        with (
            mock.patch.object(engine, "MAX_SHRINKING_SECONDS", seconds),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            return find(kernels(focus), fails, settings=config)
    except HypothesisException:  # none found, or a predicate that does not reproduce (flaky)
        return None


def reduce(kernel: DrawnKernel, fails: Fails) -> DrawnKernel:
    """Delete statements and helpers of `kernel` one at a time while it stays valid and failing."""
    current = kernel
    progress = True
    while progress:
        progress = False
        for candidate in _deletions(current):
            if _lowers(candidate) and fails(candidate):
                current, progress = candidate, True
                break
    return current


def _deletions(kernel: DrawnKernel) -> Iterator[DrawnKernel]:
    """`kernel` with one statement (or one helper) removed, in every possible way, outermost first."""
    tree = ast.parse(kernel.source)
    for path in _statement_paths(tree):
        smaller = copy.deepcopy(tree)
        block, index = _resolve(smaller, path)
        if len(block) == 1 or _is_kernel(block[index], kernel.kernel_name):
            continue  # a block cannot be empty
        del block[index]
        yield replace(kernel, source=ast.unparse(smaller) + "\n")


def _statement_paths(tree: ast.Module) -> list[tuple[tuple[int | str, ...], int]]:
    paths: list[tuple[tuple[int | str, ...], int]] = []

    def visit(node: ast.AST, prefix: tuple[int | str, ...]) -> None:
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for n, child in enumerate(block):
                paths.append(((*prefix, field), n))
                visit(child, (*prefix, field, n))

    visit(tree, ())
    return paths


def _resolve(tree: ast.Module, path: tuple[tuple[int | str, ...], int]) -> tuple[list[ast.stmt], int]:
    node: ast.AST | list = tree
    for step in path[0]:
        node = node[step] if isinstance(step, int) else getattr(node, step)  # type: ignore[index]
    return node, path[1]  # type: ignore[return-value]


def _is_kernel(node: ast.stmt, name: str) -> bool:
    """The kernel and the import, which every module keeps."""
    return (isinstance(node, ast.FunctionDef) and node.name == name) or isinstance(node, ast.Import)


def _lowers(kernel: DrawnKernel) -> bool:
    try:
        lower(kernel.source, kernel.kernel_name, "cpu")
        return True
    except Exception:
        return False


def shrink_failure(finding: Finding, fails: Fails, focus: str | None = None) -> Finding:
    """`finding` with its kernel replaced by the smallest of its failure class found, if smaller."""
    found = shrink(fails, focus=focus) or DrawnKernel(finding.source, finding.kernel_name, "")
    small = reduce(found, fails)
    if len(small.source) >= len(finding.source):
        return finding
    shrunk = replace(finding, source=small.source, kernel_name=small.kernel_name, shrunk=True)
    if finding.inputs is None:
        return shrunk
    for _, kernel in execute.load_kernels([(small.source, small.kernel_name)]):
        with contextlib.suppress(execute.Unsupported):
            params, inputs = execute.prepare(kernel, finding.seed or 0)
            return replace(shrunk, params=params, inputs=inputs)
    return finding
