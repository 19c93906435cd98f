"""How much of what a kernel computes reaches an output: data flow measured from source.

Flow-insensitive, per `@wp.kernel`, on any Warp source (ours or Warp's own kernels):

- a dependency graph over names: `t = e` makes every name `e` reads (and every name
  the enclosing `if`/`while` tests and `for` ranges read: control dependence) feed `t`;
- sinks are the kernel's observable effects: a store into an array parameter
  (`out[i] = e`, `arr[i] += e`, `s.arr[i] = e`), a call taking an array parameter
  (`wp.atomic_add(acc, i, v)`, `wp.tile_store(out, t)`, a helper writing an array),
  `print`/`expect_*`, and the tests guarding an early `return`, `break` or `continue`;
- any other `wp.*` call statement updates its local arguments in place (`wp.tile_fft(c)`,
  `wp.tile_assign(dst, src)`, `wp.tile_matmul(a, b, acc)`): what it reads feeds them;
- a name is live when it reaches a sink; an assignment is live when its target is.

Figures per kernel (`KernelFlow`): live assignments, parameters read, outputs fed by an
input (a parameter read other than through `.shape`), and `wp.*` calls whose arguments
are all constants (literals, globals, `wp.constant`s and calls of those; a typed literal
such as `wp.float64(1.5)` is a literal, not a call).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from grammar.astnodes import decorated, wp_name
from grammar.types import SCALARS

#: A pseudo-name every sink feeds.
OUT = "<out>"
#: `wp.` calls that are observable effects though they take no array.
EFFECT_CALLS = frozenset({"print", "printf", "expect_eq", "expect_neq", "expect_near"})
#: Scalar type constructors: `wp.float64(1.5)` with a literal is how a typed literal is spelled.
_SCALAR_CTORS = frozenset({t.warp_name for t in SCALARS} | {"float", "int", "bool"})


@dataclass(frozen=True)
class KernelFlow:
    """Data-flow figures of one kernel."""

    name: str
    assignments: int
    live_assignments: int
    params: int
    params_read: int
    outputs: int
    input_fed_outputs: int
    calls: int
    constant_calls: int
    source_bytes: int


def kernel_functions(tree: ast.Module) -> Iterator[ast.FunctionDef]:
    """`@wp.kernel` functions of a module (decorated `@wp.kernel`, `@wp.kernel(...)` or `@kernel`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(_is_kernel_decorator(d) for d in node.decorator_list):
            yield node


def _is_kernel_decorator(d: ast.expr) -> bool:
    target = d.func if isinstance(d, ast.Call) else d
    return wp_name(target) == "kernel" or (isinstance(target, ast.Name) and target.id == "kernel")


def analyze(source: str, kernel_name: str | None = None) -> list[KernelFlow]:
    """Figures of every kernel in `source` (or only `kernel_name`)."""
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and decorated(n, "func")}
    flows = []
    for kernel in kernel_functions(tree):
        if kernel_name is None or kernel.name == kernel_name:
            segment = ast.get_source_segment(source, kernel) or ""
            flows.append(_analyze_kernel(kernel, functions, len(segment.encode())))
    return flows


# ----------------------------------------------------------------------------- names read


def _root(node: ast.expr) -> str | None:
    """The variable at the base of `a`, `a.f.g`, `a[i]`, `a.f[i][j]`."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _reads(node: ast.AST | None) -> tuple[set[str], set[str]]:
    """(names read as data, names read only through `.shape`) in an expression."""
    data: set[str] = set()
    shape: set[str] = set()
    if node is None:
        return data, shape
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Attribute) and n.attr == "shape" and _root(n.value):
            shape.add(_root(n.value))  # type: ignore[arg-type]
            continue
        if isinstance(n, ast.Call):
            stack.extend(n.args)
            stack.extend(k.value for k in n.keywords)
            if not isinstance(n.func, ast.Name | ast.Attribute) or wp_name(n.func) is None:
                stack.append(n.func)  # a method call reads its object; a plain name is a function
            continue
        if isinstance(n, ast.Name) and n.id != "wp":
            data.add(n.id)
            continue
        stack.extend(ast.iter_child_nodes(n))
    return data, shape - data


def _all_reads(node: ast.AST | None) -> set[str]:
    data, shape = _reads(node)
    return data | shape


# ----------------------------------------------------------------------------- the graph


class _Graph:
    """Edges name -> names it feeds, built over one kernel body."""

    def __init__(self, arrays: frozenset[str], functions: dict[str, ast.FunctionDef]):
        self.arrays = arrays
        self.functions = functions
        self.edges: dict[str, set[str]] = {}
        self.assignments: list[str] = []  # target of each assignment, in order
        self.sinks: list[tuple[str, set[str]]] = []  # (array written, names feeding it)
        self.control: list[set[str]] = []

    def feed(self, sources: Iterable[str], target: str) -> None:
        for s in sources:
            self.edges.setdefault(s, set()).add(target)

    def controlling(self) -> set[str]:
        return set().union(*self.control) if self.control else set()

    def sink(self, array: str, sources: set[str]) -> None:
        sources = sources | self.controlling()
        self.sinks.append((array, sources))
        self.feed(sources, OUT)

    def block(self, body: Iterable[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, s: ast.stmt) -> None:
        if isinstance(s, ast.Assign | ast.AnnAssign) and s.value is not None:
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            reads = _all_reads(s.value)
            for t in targets:
                self.assign(t, reads)
        elif isinstance(s, ast.AugAssign):
            self.assign(s.target, _all_reads(s.value) | _all_reads(s.target))
        elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            self.call_statement(s.value)
        elif isinstance(s, ast.If | ast.While):
            self.nested(_all_reads(s.test), [*s.body, *s.orelse])
        elif isinstance(s, ast.For):
            reads = _all_reads(s.iter)
            for name in _all_reads(s.target):
                self.feed(reads | self.controlling(), name)
            self.nested(reads, [*s.body, *s.orelse])
        elif isinstance(s, ast.Return | ast.Break | ast.Continue):
            self.feed(self.controlling() | _all_reads(getattr(s, "value", None)), OUT)
        elif isinstance(s, ast.With | ast.Try):
            self.block(getattr(s, "body", []))

    def nested(self, control: set[str], body: list[ast.stmt]) -> None:
        self.control.append(control)
        self.block(body)
        self.control.pop()

    def assign(self, target: ast.expr, reads: set[str]) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            for t in target.elts:
                self.assign(t, reads)
            return
        root = _root(target)
        if root is None:
            return
        index = _all_reads(target) - {root} if not isinstance(target, ast.Name) else set()
        if root in self.arrays and not isinstance(target, ast.Name):
            self.sink(root, reads | index)
            return
        self.assignments.append(root)
        self.feed(reads | index | self.controlling(), root)

    def call_statement(self, call: ast.Call) -> None:
        name = wp_name(call.func)
        # an array passed whole (`wp.atomic_add(acc, i, v)`), not one of its elements (`a[i]`)
        whole = {_root(a) for a in call.args if isinstance(a, ast.Name | ast.Attribute)}
        written = sorted(r for r in whole if r in self.arrays)
        reads = _all_reads(call)
        if written or name in EFFECT_CALLS:
            for array in written or ["<effect>"]:
                self.sink(array, reads)
        elif name is not None:  # updates its local arguments in place (`wp.tile_assign(dst, src)`)
            for local in sorted(r for r in whole if r is not None):
                self.feed(reads | self.controlling(), local)

    def live(self) -> set[str]:
        """Names that reach a sink."""
        reverse: dict[str, set[str]] = {}
        for s, targets in self.edges.items():
            for t in targets:
                reverse.setdefault(t, set()).add(s)
        return _reachable(reverse, {OUT})

    def feeding(self, sources: set[str]) -> set[str]:
        """Names whose values reach `sources` (them included)."""
        reverse: dict[str, set[str]] = {}
        for s, targets in self.edges.items():
            for t in targets:
                reverse.setdefault(t, set()).add(s)
        return _reachable(reverse, sources)


def _reachable(edges: dict[str, set[str]], start: set[str]) -> set[str]:
    seen = set(start)
    stack = list(start)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


# ----------------------------------------------------------------------------- constant calls


def _is_constant(node: ast.expr, local: set[str]) -> bool:
    """An expression of literals, globals and `wp.` attributes (no local, parameter or loop value)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id not in local
    if isinstance(node, ast.Attribute):
        return wp_name(node) is not None or _is_constant(node.value, local)
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand, local)
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left, local) and _is_constant(node.right, local)
    if isinstance(node, ast.Call):
        return all(_is_constant(a, local) for a in (*node.args, *(k.value for k in node.keywords)))
    if isinstance(node, ast.Tuple):
        return all(_is_constant(e, local) for e in node.elts)
    return False


def _is_typed_literal(call: ast.Call) -> bool:
    name = wp_name(call.func) or (call.func.id if isinstance(call.func, ast.Name) else "")
    arg = call.args[0] if len(call.args) == 1 and not call.keywords else None
    if isinstance(arg, ast.UnaryOp):
        arg = arg.operand
    return name in _SCALAR_CTORS and isinstance(arg, ast.Constant)


def _count_calls(functions: list[ast.FunctionDef]) -> tuple[int, int]:
    """(`wp.*` calls with arguments, those whose arguments are all constant) in `functions`."""
    calls = constant = 0
    for fn in functions:
        local = {a.arg for a in fn.args.args} | {
            n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        for node in (n for stmt in fn.body for n in ast.walk(stmt)):  # not decorators, annotations
            if not isinstance(node, ast.Call) or wp_name(node.func) is None:
                continue
            no_args = not (node.args or node.keywords)
            if no_args or _is_typed_literal(node) or wp_name(node.func) == "constant":
                continue
            calls += 1
            constant += _is_constant(node, local)
    return calls, constant


def _called_functions(
    kernel: ast.FunctionDef, functions: dict[str, ast.FunctionDef]
) -> list[ast.FunctionDef]:
    """The kernel and the module's `@wp.func`s it calls, transitively."""
    found: dict[str, ast.FunctionDef] = {}
    stack = [kernel]
    while stack:
        fn = stack.pop()
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                callee = functions.get(node.func.id)
                if callee is not None and callee.name not in found:
                    found[callee.name] = callee
                    stack.append(callee)
    return [kernel, *found.values()]


# ----------------------------------------------------------------------------- per kernel


def _analyze_kernel(kernel: ast.FunctionDef, functions: dict[str, ast.FunctionDef], size: int) -> KernelFlow:
    params = [a.arg for a in kernel.args.args]
    arrays = frozenset(a.arg for a in kernel.args.args if not _is_scalar_annotation(a.annotation))
    graph = _Graph(arrays, functions)
    graph.block(kernel.body)
    live = graph.live()
    body_reads = set().union(*(_all_reads(s) for s in kernel.body)) if kernel.body else set()
    written = {array for array, _ in graph.sinks if array in arrays}
    fed = 0
    for array in written:
        sources = set().union(*(src for a, src in graph.sinks if a == array))
        data = graph.feeding(sources) - {array}
        fed += any(p in data for p in params if p != array and p not in written)
    calls, constant = _count_calls(_called_functions(kernel, functions))
    return KernelFlow(
        name=kernel.name,
        assignments=len(graph.assignments),
        live_assignments=sum(t in live for t in graph.assignments),
        params=len(params),
        params_read=sum(p in body_reads for p in params),
        outputs=len(written),
        input_fed_outputs=fed,
        calls=calls,
        constant_calls=constant,
        source_bytes=size,
    )


def _is_scalar_annotation(node: ast.expr | None) -> bool:
    """A parameter that is a value, not an array, struct holding arrays, or handle: a plain scalar type."""
    if node is None:
        return True
    text = ast.unparse(node)
    name = text.removeprefix("wp.")
    return name in _SCALAR_CTORS or name.startswith(("vec", "mat", "quat", "transform", "spatial"))


# ----------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Summary:
    """Means of per-kernel shares over a set of kernels (kernels without the denominator skipped)."""

    kernels: int
    live_assignments: float
    params_read: float
    input_fed_outputs: float
    constant_calls: float

    @staticmethod
    def of(flows: list[KernelFlow]) -> Summary:
        return Summary(
            kernels=len(flows),
            live_assignments=_mean(f.live_assignments / f.assignments for f in flows if f.assignments),
            params_read=_mean(f.params_read / f.params for f in flows if f.params),
            input_fed_outputs=_mean(f.input_fed_outputs / f.outputs for f in flows if f.outputs),
            constant_calls=_mean(f.constant_calls / f.calls for f in flows if f.calls),
        )


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def percentiles(values: list[int], points: tuple[int, ...] = (50, 90, 99, 100)) -> dict[str, int]:
    """Nearest-rank percentiles of `values` (p100 is the maximum)."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {f"p{p}": ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))] for p in points}
