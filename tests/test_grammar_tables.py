"""The grammar's tables: statement kinds, label rules, narrow arguments, the differentiable policy."""

import ast
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emit.lower import lower
from grammar.astnodes import wp_name
from grammar.builtins import ARGUMENTS, all_builtins, nondifferentiable_on_floats
from grammar.labels import RULES, markdown_rules
from grammar.policy import DIFFERENTIABLE_FOCUS, NOT_DIFFERENTIABLE, SWITCHES
from grammar.sample import sample
from grammar.statements import KINDS
from grammar.types import BY_WARP_NAME, SPELLINGS
from grammar.unparse import to_source

RECORDS_DOC = Path(__file__).resolve().parent.parent / "docs" / "records.md"


def _atomic(n: ast.AST) -> bool:
    call = isinstance(n, ast.Call) and (wp_name(n.func) or "").startswith("atomic_")
    return call or (isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Subscript))


#: What each statement kind looks like in a generated kernel's AST.
SHOWS = {
    "augassign": lambda n: isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name),
    "select": lambda n: isinstance(n, ast.IfExp),
    "store": lambda n: isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Subscript),
    "component_store": lambda n: (
        isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Subscript | ast.Attribute)
    ),
    "unpack": lambda n: isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Tuple),
    "struct_local": lambda n: isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Attribute),
    "atomic": _atomic,
    "if": lambda n: isinstance(n, ast.If) and not isinstance(n.body[0], ast.Return),
    "for": lambda n: isinstance(n, ast.For),
    "while": lambda n: isinstance(n, ast.While),
    "break": lambda n: isinstance(n, ast.Break | ast.Continue),
    "nest": lambda n: (
        isinstance(n, ast.For | ast.While | ast.If)
        and any(isinstance(m, ast.For | ast.While | ast.If) for s in n.body for m in ast.walk(s))
    ),
    "math": lambda n: isinstance(n, ast.Call) and wp_name(n.func) in ("sin", "exp", "sqrt", "log", "tanh"),
    "vector": lambda n: isinstance(n, ast.Call) and (wp_name(n.func) or "").startswith("vec"),
    "matrix": lambda n: isinstance(n, ast.Call) and (wp_name(n.func) or "").startswith("mat"),
    "address": lambda n: isinstance(n, ast.Call) and wp_name(n.func) == "address_of",
    "geometry": lambda n: (
        isinstance(n, ast.Call)
        and (wp_name(n.func) or "").startswith(("mesh_", "bvh_", "hash_grid_", "volume_", "texture_"))
    ),
}


def _preorder(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and everything under it, in source order."""
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _preorder(child)


def _name_assignments(kernel: ast.AST) -> Iterator[bool]:
    """For each `name = value` in `kernel`, in source order: whether it binds `name` first (a
    declaration) rather than again (an assignment to an existing variable)."""
    bound: set[str] = set()
    for n in _preorder(kernel):
        if isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name):
            yield n.targets[0].id not in bound
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            bound.add(n.id)


#: Statement kinds seen only in context: a kernel shows one if this says so.
SHOWN_IN_KERNEL: dict[str, Callable[[ast.AST], bool]] = {
    "declare": lambda kernel: any(_name_assignments(kernel)),
    "assign": lambda kernel: not all(_name_assignments(kernel)),
}


def _shows(kind: str, kernel: ast.AST) -> bool:
    if kind in SHOWN_IN_KERNEL:
        return SHOWN_IN_KERNEL[kind](kernel)
    return any(SHOWS[kind](n) for n in ast.walk(kernel))


def test_every_statement_kind_is_described_here():
    assert not SHOWS.keys() & SHOWN_IN_KERNEL.keys()
    assert set(SHOWS) | set(SHOWN_IN_KERNEL) == {k.name for k in KINDS}


@pytest.mark.parametrize(
    ("body", "declare", "assign"),
    [("x = a[i]", True, False), ("x = a[i]\ny = x", True, False), ("x = a[i]\nx = x + 1.0", True, True)],
)
def test_declarations_and_assignments_are_told_apart(body, declare, assign):
    kernel = ast.parse("def k(a, out):\n    i = wp.tid()\n" + textwrap.indent(body, "    "))
    assert (_shows("declare", kernel), _shows("assign", kernel)) == (declare, assign)


def test_statement_table_rows_are_consistent():
    for kind in KINDS:
        assert kind.switches <= set(SWITCHES), kind.name
        assert not kind.required_by or kind.required_by in kind.switches, kind.name
        assert kind.weight > 0 or kind.required_by, f"{kind.name} can never appear"
        assert not (kind.compound and kind.in_helpers), f"{kind.name}: helpers hold no blocks"


@pytest.fixture(scope="module")
def kernels():
    return [sample(seed) for seed in range(300)]


@pytest.mark.parametrize("kind", [k.name for k in KINDS])
def test_every_statement_kind_appears_and_lowers(kind, kernels):
    more = (sample(seed) for seed in range(len(kernels), 3000))  # rare kinds (break: ~1 in 300)
    found = next((s for s in (*kernels, *more) if _shows(kind, s.tree.body[-1])), None)
    assert found is not None, f"no kernel among 3000 has a {kind} statement"
    lower(to_source(found.tree), found.kernel_name, "cpu")


def test_docs_state_the_label_rules_of_the_table():
    assert markdown_rules() in RECORDS_DOC.read_text()
    assert [r.label for r in RULES][-1] == "arithmetic"


def test_narrow_arguments_hold_in_generated_calls():
    assert set(ARGUMENTS) <= {b.name for b in all_builtins()}
    calls = [
        n
        for seed in range(800)
        for n in ast.walk(sample(seed).tree)
        if isinstance(n, ast.Call) and wp_name(n.func) in ARGUMENTS
    ]
    assert calls, "no call of a builtin with narrow arguments among 800 seeds"
    for call in calls:
        axes = [ast.literal_eval(call.args[k]) for k in ARGUMENTS[wp_name(call.func)].positions]
        assert sorted(axes) == [0, 1, 2], ast.unparse(call)


def test_differentiable_kernels_keep_float_data_flow_inside_the_contract():
    never = {b.name for b in all_builtins() if not b.differentiable} | nondifferentiable_on_floats()
    assert "control_flow" not in DIFFERENTIABLE_FOCUS
    for seed in range(60):
        s = sample(seed, differentiable=True)
        assert s.policy.differentiable and not s.policy.switches & NOT_DIFFERENTIABLE
        source = to_source(s.tree)
        dtypes = re.findall(r"\(dtype=([\w.]+)\)", source)
        arrays = [BY_WARP_NAME[SPELLINGS[a.removeprefix("wp.")]] for a in dtypes]
        assert arrays and all(a.is_float_based and a.scalar != "float16" for a in arrays), source
        kernel = s.tree.body[-1]
        assert not any(isinstance(n, ast.While | ast.Break | ast.Continue) for n in ast.walk(kernel)), source
        for loop in (n for n in ast.walk(kernel) if isinstance(n, ast.For)):
            bound = loop.iter.args[0]  # type: ignore[attr-defined]
            assert isinstance(bound, ast.Constant) or wp_name(bound.func) == "static", source  # unrolled
        calls = {wp_name(n.func) for n in ast.walk(s.tree) if isinstance(n, ast.Call)}
        assert not calls & never, source
        lower(source, s.kernel_name, "cpu")
