"""Hand-written kernels with known features get the documented `kernel_type`."""

import ast
import textwrap

import pytest

from grammar.choices import SeededChoices
from grammar.features import extract_features
from grammar.labels import KERNEL_TYPES, kernel_type, label_source
from grammar.sample import generate

HEADER = "import warp as wp\n\n"

CASES = {
    "arithmetic": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            out[i] = a[i] * 2.0 + 1.0
    """,
    "scalar_param": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float), s: float):
            i = wp.tid()
            out[i] = a[i] * s
    """,
    "math": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            out[i] = wp.sin(a[i]) + wp.clamp(a[i], 0.0, 1.0)
    """,
    "conditional": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            if i >= out.shape[0]:
                return
            if a[i] > 0.0:
                out[i] = a[i]
            else:
                out[i] = -a[i]
    """,
    "loop": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            s = float(0.0)
            for j in range(a.shape[0]):
                s += a[j]
            out[i] = s
    """,
    "control_flow": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            w = int(0)
            s = float(0.0)
            while w < 4:
                w += 1
                s += a[i]
            out[i] = s
    """,
    "multi_cond": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            if a[i] > 1.0 and a[i] < 2.0:
                out[i] = 1.0
            elif a[i] < 0.0:
                out[i] = 2.0
    """,
    "vector": """
        @wp.kernel
        def k(a: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
            i = wp.tid()
            out[i] = wp.dot(a[i], wp.vec3(1.0, 0.0, 0.0))
    """,
    "matrix": """
        @wp.kernel
        def k(a: wp.array(dtype=wp.mat33), out: wp.array(dtype=float)):
            i = wp.tid()
            out[i] = wp.determinant(a[i])
    """,
    "atomic": """
        @wp.kernel
        def k(a: wp.array(dtype=float), total: wp.array(dtype=float)):
            i = wp.tid()
            wp.atomic_add(total, 0, a[i])
    """,
    "nested": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            s = float(0.0)
            for j in range(4):
                if a[j] > 0.0:
                    s += a[j]
            out[i] = s
    """,
    "combined": """
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            s = float(0.0)
            for j in range(4):
                s += wp.exp(a[j])
            if s > 1.0:
                s = 1.0
            out[i] = s
    """,
}


def test_every_label_has_a_case():
    assert set(CASES) == set(KERNEL_TYPES)


@pytest.mark.parametrize("expected", sorted(CASES))
def test_hand_written_kernel_label(expected):
    assert label_source(HEADER + textwrap.dedent(CASES[expected])) == expected


def test_array_augassign_counts_as_atomic():
    source = HEADER + textwrap.dedent("""
        @wp.kernel
        def k(a: wp.array(dtype=float), total: wp.array(dtype=float)):
            i = wp.tid()
            total[0] += a[i]
    """)
    assert label_source(source) == "atomic"


def test_elif_is_not_nesting_and_guard_is_not_a_conditional():
    import ast

    source = HEADER + textwrap.dedent(CASES["multi_cond"])
    assert extract_features(ast.parse(source)).nesting == 1
    guard_only = HEADER + textwrap.dedent("""
        @wp.kernel
        def k(out: wp.array(dtype=float)):
            i = wp.tid()
            if i >= out.shape[0]:
                return
            out[i] = 1.0
    """)
    assert kernel_type(extract_features(ast.parse(guard_only))) == "arithmetic"


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("q = wp.quat_rotate(wp.quat(0.0, 0.0, 0.0, 1.0), wp.vec3(1.0))", "vector"),
        ("q = wp.transform_point(wp.transform_identity(), wp.vec3(1.0))", "vector"),
        ("q = wp.spatial_top(wp.spatial_vector(1.0, 2.0, 3.0, 4.0, 5.0, 6.0))", "vector"),
        ("q = wp.spatial_matrix()", "matrix"),
        ("U, s, V = wp.svd3(wp.identity(n=3, dtype=float))", "matrix"),
        ("q = wp.randf(wp.rand_init(7, i))", "math"),
    ],
)
def test_quaternion_transform_spatial_random_labels(statement, expected):
    source = HEADER + textwrap.dedent(f"""
        @wp.kernel
        def k(out: wp.array(dtype=float)):
            i = wp.tid()
            {statement}
    """)
    assert label_source(source) == expected


def test_types_are_collected_whatever_their_spelling():
    import ast

    source = HEADER + textwrap.dedent("""
        @wp.kernel
        def k(a: wp.array(dtype=wp.vec3), b: wp.array(dtype=wp.uint8), s: float):
            i = wp.tid()
            h = wp.float16(s)
    """)
    assert extract_features(ast.parse(source)).types == {"vec3f", "uint8", "float32", "float16"}


#: Each way a kernel is multi_cond, alone (no other): the test of an `if`, or an `elif` chain.
CONDITION_FORMS = {
    "and": "a[i] > 1.0 and a[i] < 2.0",
    "or": "a[i] > 1.0 or a[i] < 0.0",
    "not": "not a[i] > 1.0",
    "chained": "0.0 < a[i] < 1.0",
}


def _if_kernel(test: str, elif_test: str | None = None) -> str:
    elif_branch = f"\n            elif {elif_test}:\n                out[i] = 2.0" if elif_test else ""
    return HEADER + textwrap.dedent(f"""
        @wp.kernel
        def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
            i = wp.tid()
            if {test}:
                out[i] = 1.0{elif_branch}
    """)


@pytest.mark.parametrize("form", sorted(CONDITION_FORMS))
def test_each_condition_form_alone_makes_a_kernel_multi_cond(form):
    assert label_source(_if_kernel(CONDITION_FORMS[form])) == "multi_cond"


def test_an_elif_chain_alone_makes_a_kernel_multi_cond_and_a_comparison_does_not():
    assert label_source(_if_kernel("a[i] > 1.0", "a[i] < 0.0")) == "multi_cond"
    assert label_source(_if_kernel("a[i] > 1.0")) == "conditional"


def _condition_forms(tree: ast.AST) -> set[str]:
    """The `CONDITION_FORMS` in `tree`, outside the tests of early `if ...: return` (bounds guards)."""
    guards = {
        id(n)
        for s in ast.walk(tree)
        if isinstance(s, ast.If) and len(s.body) == 1 and isinstance(s.body[0], ast.Return)
        for n in ast.walk(s.test)
    }
    forms = set()
    for n in ast.walk(tree):
        if id(n) in guards:
            continue
        if isinstance(n, ast.BoolOp):
            forms.add("and" if isinstance(n.op, ast.And) else "or")
        elif isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            forms.add("not")
        elif isinstance(n, ast.Compare) and len(n.ops) > 1:
            forms.add("chained")
    return forms


def test_generated_multi_cond_kernels_without_an_elif_use_every_condition_form():
    """Aimed at multi_cond, the generator writes each form, and a kernel with no `elif` chain is
    labelled multi_cond by its conditions alone."""
    found = set()
    for seed in range(60):
        tree, _, _ = generate(SeededChoices(seed), "multi_cond")
        features = extract_features(tree)
        if not features.elif_chain and kernel_type(features) == "multi_cond":
            found |= _condition_forms(tree)
    assert found == set(CONDITION_FORMS)
