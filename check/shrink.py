"""Shrinking a failure to a minimal kernel: Hypothesis search, then C-Reduce style reduction.

A failure found from a seed is a failure *class* (compile, crash, gradient,
...).  `shrink` asks Hypothesis for a kernel of the grammar
(`grammar.strategies.kernels()`) that shows the same class and lets it shrink
that one: decisions move towards fewer statements, switched-off features and
the first option of every choice.  Hypothesis' shrinker is thorough but each
try draws a whole module, so its time is bounded and `reduce` finishes the job.

`reduce` is delta debugging in the manner of C-Reduce: passes propose smaller
variants of the module, those Warp still lowers are tried, and the first that
still fails is kept; passes repeat until none helps.  The passes, in order:
delete a statement or a helper; replace an `if` or a loop by one of its blocks;
propagate a copy (`a = b`: `a` read as `b`); drop a parameter the kernel no
longer reads; inline a helper that returns one expression (and drop it); reduce
every array to one dimension (the launch too); replace a subexpression by one of
its operands or by a leaf (`1.0`, `1`).  No variant reading a name it no longer
binds is proposed (a deleted constant whose use was kept fails for another reason,
or under another Warp not at all).  The predicate takes a batch of variants
and names the first that fails, so a checker that pays per process (another
Warp installation, `check.judge`) tries many at once.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import io
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from check import execute
from check.findings import Finding
from emit.lower import lower
from grammar.astnodes import wp_name
from grammar.strategies import DrawnKernel, kernels

#: Kernels Hypothesis may try while searching for a failure ...
MAX_EXAMPLES = 60
#: ... and seconds it may spend shrinking one (each try may cost a Warp compile).
SHRINK_SECONDS = 60
#: Variants tried per call of a batch predicate (`FirstFailing`), by default.
BATCH = 8
#: Seconds reduction may go on (under another installation a predicate costs processes); then the
#: smallest failing variant so far is kept.
REDUCE_SECONDS = 300

Fails = Callable[[DrawnKernel], bool]
#: Given variants, the index of the first that fails (None: none does).
FirstFailing = Callable[[Sequence[DrawnKernel]], "int | None"]


def one_by_one(fails: Fails) -> FirstFailing:
    """A batch predicate trying each variant in turn."""
    return lambda variants: next((n for n, k in enumerate(variants) if fails(k)), None)


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


def reduce(
    kernel: DrawnKernel,
    fails: Fails | None = None,
    first_failing: FirstFailing | None = None,
    batch: int = BATCH,
    seconds: float = REDUCE_SECONDS,
) -> DrawnKernel:
    """The smallest variant of `kernel` the passes reach that still lowers and fails: the last of
    `reductions` (`kernel` itself when none fails)."""
    kept = list(reductions(kernel, fails, first_failing, batch, seconds))
    return kept[-1] if kept else kernel


def reductions(
    kernel: DrawnKernel,
    fails: Fails | None = None,
    first_failing: FirstFailing | None = None,
    batch: int = BATCH,
    seconds: float = REDUCE_SECONDS,
) -> Iterator[DrawnKernel]:
    """Each variant reduction keeps, smaller and smaller (see the module docstring); `fails` judges one
    variant, or `first_failing` up to `batch` of them at a time.

    As C-Reduce does, after a success the next round goes on from the place of the variant that
    succeeded (those before it were just tried and did not fail) and wraps around; it ends after a
    whole round without a success, or after `seconds`.
    """
    first = first_failing or one_by_one(fails)  # type: ignore[arg-type]
    current, start, deadline = kernel, 0, time.monotonic() + seconds
    while True:
        variants = [v for v in _variants(current) if _lowers(v)]
        order = variants[start:] + variants[:start]
        found = _first_failing_variant(order, first, batch, deadline)
        if found is None:
            return
        current, start = order[found], (start + found) % len(variants)
        yield current


def _first_failing_variant(
    variants: list[DrawnKernel], first: FirstFailing, batch: int, deadline: float
) -> int | None:
    """The index of the first variant that fails, tried in batches that double up to `batch`: after a
    success the next variants tend to fail too (small batches waste nothing), later most do not (large
    ones save calls).  None when none fails, or past `deadline`."""
    begin, size = 0, min(2, batch)
    while begin < len(variants) and time.monotonic() < deadline:
        found = first(variants[begin : begin + size])
        if found is not None:
            return begin + found
        begin, size = begin + size, min(2 * size, batch)
    return None


def _variants(kernel: DrawnKernel) -> Iterator[DrawnKernel]:
    """Every pass's proposals, each smaller than `kernel`, each once."""
    seen = {kernel.source}
    for make in (
        _deletions,
        _unwrapped,
        _propagated,
        _unused_parameters,
        _inlinings,
        _flattened,
        _replacements,
    ):
        for tree in make(ast.parse(kernel.source), kernel.kernel_name):
            source = ast.unparse(tree) + "\n"
            if source not in seen and len(source) < len(kernel.source) and not undefined_names(tree):
                seen.add(source)
                yield replace(kernel, source=source)


def undefined_names(tree: ast.Module) -> set[str]:
    """Names the module reads but never binds (nor Python's builtins): a deletion kept a use of what it
    deleted (`GAIN = wp.constant(...)` gone, `x * GAIN` kept).  Another Warp may build such a module
    differently (a name resolved late, or not at all), so the variant would fail for another reason."""
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return read - bound


# ----------------------------------------------------------------------------- deleting statements


def _deletions(tree: ast.Module, kernel_name: str) -> Iterator[ast.Module]:
    """`tree` with one statement (or one helper) removed, in every possible way, outermost first."""
    for path in _statement_paths(tree):
        smaller = copy.deepcopy(tree)
        block, index = _resolve(smaller, path)
        if len(block) == 1 or _is_kernel(block[index], kernel_name):
            continue  # a block cannot be empty
        del block[index]
        yield smaller


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


def _unwrapped(tree: ast.Module, kernel_name: str) -> Iterator[ast.Module]:
    """`tree` with one compound statement replaced by one of its blocks (an `if` by its body or its
    `else`, a loop by its body), or an `if` without its `else`."""
    for path in _statement_paths(tree):
        block, index = _resolve(tree, path)
        node = block[index]
        if isinstance(node, ast.If):
            options = [node.body, node.orelse, [ast.If(test=node.test, body=node.body, orelse=[])]]
        elif isinstance(node, ast.For | ast.While):
            options = [node.body]
        else:
            continue
        for statements in (o for o in options if o):
            smaller = copy.deepcopy(tree)
            block, index = _resolve(smaller, path)
            block[index : index + 1] = copy.deepcopy(statements)
            yield smaller


def _propagated(tree: ast.Module, kernel_name: str) -> Iterator[ast.Module]:
    """`tree` with a copy `a = b` (`b` a name, `a` assigned nowhere else) removed and `a` read as `b`."""
    for func in (s for s in tree.body if isinstance(s, ast.FunctionDef)):
        stores = Counter(
            n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        )
        for statement in func.body:
            copied = isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Name)
            if not copied or not isinstance(statement.targets[0], ast.Name):
                continue
            a, b = statement.targets[0].id, statement.value.id  # type: ignore[union-attr]
            if stores[a] != 1:
                continue
            smaller = copy.deepcopy(tree)
            target = next(s for s in smaller.body if isinstance(s, ast.FunctionDef) and s.name == func.name)
            target.body = [s for s in target.body if ast.dump(s) != ast.dump(statement)]
            yield _Bind({a: ast.Name(id=b, ctx=ast.Load())}).visit(smaller)


def _unused_parameters(tree: ast.Module, kernel_name: str) -> Iterator[ast.Module]:
    """`tree` with one parameter the kernel no longer reads removed (fewer inputs to state)."""
    kernel = next(s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == kernel_name)
    used = {n.id for n in ast.walk(kernel) if isinstance(n, ast.Name)}
    for n, a in enumerate(kernel.args.args):
        if a.arg not in used:
            smaller = copy.deepcopy(tree)
            smaller_kernel = next(
                s for s in smaller.body if isinstance(s, ast.FunctionDef) and s.name == kernel_name
            )
            del smaller_kernel.args.args[n]
            yield smaller


# ----------------------------------------------------------------------------- reducing expressions

#: Leaves a subexpression may become (Warp types the literals: float32, int32).
_LEAVES = (1.0, 1)


def _replaceable(tree: ast.Module) -> list[ast.expr]:
    """Expressions inside function bodies that may be replaced: not annotations or decorators, not
    `wp.tid()`, not an assignment's target, not a call's callee; largest first."""
    found: list[ast.expr] = []
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for statement in func.body:
            for node in ast.walk(statement):
                if isinstance(node, ast.expr) and not isinstance(node, ast.Constant):
                    found.append(node)
    excluded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            excluded.add(id(node.func))
            if wp_name(node.func) == "tid":
                excluded.add(id(node))
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.For):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                excluded |= {id(t) for t in ast.walk(target)}
        elif isinstance(node, ast.Attribute) and wp_name(node):
            excluded.add(id(node.value))  # the `wp` of `wp.name`
        elif isinstance(node, ast.Subscript):
            excluded.add(id(node.value))  # what is indexed: its element is replaced instead
    sizes = {id(n): sum(1 for _ in ast.walk(n)) for n in found}
    return sorted((n for n in found if id(n) not in excluded), key=lambda n: -sizes[id(n)])


def _operands(node: ast.expr) -> list[ast.expr]:
    """The subexpressions an expression computes from (a subscript's index, not its array)."""
    if isinstance(node, ast.Call):
        return [*node.args, *(k.value for k in node.keywords)]
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.IfExp):
        return [node.body, node.orelse, node.test]
    if isinstance(node, ast.Subscript):
        index = node.slice
        return list(index.elts) if isinstance(index, ast.Tuple) else [index]
    return []


def _replacements(tree: ast.Module, kernel_name: str) -> Iterator[ast.Module]:
    """`tree` with one subexpression replaced by one of its operands, or by a leaf."""
    for n, node in enumerate(_replaceable(tree)):
        for by in [*_operands(node), *(ast.Constant(value=v) for v in _LEAVES)]:
            if isinstance(node, ast.Subscript) and by in _operands(node):
                continue  # an element is not its index
            yield _substituted(tree, n, by)


def _substituted(tree: ast.Module, n: int, by: ast.expr) -> ast.Module:
    """A copy of `tree` with the `n`th replaceable expression replaced by a copy of `by`."""
    smaller = copy.deepcopy(tree)
    target = _replaceable(smaller)[n]
    new = copy.deepcopy(by)
    for parent in ast.walk(smaller):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, new)
            elif isinstance(value, list) and any(v is target for v in value):
                setattr(parent, field, [new if v is target else v for v in value])
    return smaller


# ----------------------------------------------------------------------------- inlining helpers


def _inlinings(tree: ast.Module, kernel_name: str) -> Iterator[ast.Module]:
    """`tree` with a helper whose body is `return expression` inlined at every call, and dropped."""
    for helper in [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name != kernel_name]:
        if (
            len(helper.body) != 1
            or not isinstance(helper.body[0], ast.Return)
            or helper.body[0].value is None
        ):
            continue
        if isinstance(helper.body[0].value, ast.Tuple):
            continue  # several results: their unpacking would need rewriting too
        smaller = copy.deepcopy(tree)
        smaller.body = [
            s for s in smaller.body if not (isinstance(s, ast.FunctionDef) and s.name == helper.name)
        ]
        yield _Inline(helper).visit(smaller)


class _Inline(ast.NodeTransformer):
    """Calls of `helper` replaced by its returned expression, the arguments put for the parameters."""

    def __init__(self, helper: ast.FunctionDef):
        self.helper = helper
        self.params = [a.arg for a in helper.args.args]
        assert isinstance(helper.body[0], ast.Return)
        self.returned = helper.body[0].value

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Name) and node.func.id == self.helper.name):
            return node
        bound = dict(zip(self.params, node.args, strict=False)) | {
            k.arg: k.value for k in node.keywords if k.arg
        }
        return _Bind(bound).visit(copy.deepcopy(self.returned))


class _Bind(ast.NodeTransformer):
    def __init__(self, bound: dict[str, ast.expr]):
        self.bound = bound

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return copy.deepcopy(self.bound[node.id]) if node.id in self.bound else node


# ----------------------------------------------------------------------------- reducing array ranks


def _flattened(tree: ast.Module, kernel_name: str) -> Iterator[ast.Module]:
    """`tree` with every array of the kernel one-dimensional and a 1-D launch: the thread indices after
    the first become 0, array subscripts keep their first index, `a.shape[k]` becomes `a.shape[0]`."""
    smaller = copy.deepcopy(tree)
    kernel = next((s for s in smaller.body if isinstance(s, ast.FunctionDef) and s.name == kernel_name), None)
    if kernel is None or any(name.startswith("tile_") for name in _wp_calls(kernel)):
        return
    arrays = set()
    for a in kernel.args.args:
        call = a.annotation
        if isinstance(call, ast.Call) and wp_name(call.func) in ("array2d", "array3d", "array4d"):
            call.func = ast.Attribute(value=ast.Name(id="wp", ctx=ast.Load()), attr="array", ctx=ast.Load())
            arrays.add(a.arg)
    if not arrays:
        return
    dropped: set[str] = set()
    for statement in kernel.body:
        if isinstance(statement, ast.Assign) and "tid" in _wp_calls(statement.value):
            target = statement.targets[0]
            if isinstance(target, ast.Tuple):
                names = [e.id for e in target.elts if isinstance(e, ast.Name)]
                statement.targets[0] = ast.Name(id=names[0], ctx=ast.Store())
                dropped |= set(names[1:])
    yield _Flatten(arrays, dropped).visit(smaller)


def _is_shape_of(node: ast.expr, arrays: set[str]) -> bool:
    """`a.shape` for one of `arrays`."""
    return isinstance(node, ast.Attribute) and node.attr == "shape" and _name_of(node.value) in arrays


def _name_of(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _wp_calls(node: ast.AST) -> set[str]:
    """Names of the `wp.` functions called under `node`."""
    return {name for n in ast.walk(node) if isinstance(n, ast.Call) and (name := wp_name(n.func))}


class _Flatten(ast.NodeTransformer):
    def __init__(self, arrays: set[str], dropped: set[str]):
        self.arrays, self.dropped = arrays, dropped

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return ast.Constant(value=0) if node.id in self.dropped and isinstance(node.ctx, ast.Load) else node

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        value = node.value
        if _name_of(value) in self.arrays and isinstance(node.slice, ast.Tuple):
            node.slice = node.slice.elts[0]
        elif _is_shape_of(value, self.arrays):
            node.slice = ast.Constant(value=0)
        return node


# ----------------------------------------------------------------------------- the finding


def _lowers(kernel: DrawnKernel) -> bool:
    try:
        with warnings.catch_warnings():  # Python's own about nonsense variants (`1[i]`)
            warnings.simplefilter("ignore")
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
    try:
        params, inputs = execute.describe(small.source, small.kernel_name, finding.seed or 0)
    except execute.Unsupported:
        return finding
    return replace(shrunk, params=params, inputs=inputs)
