"""Hand-written kernels with known features get the documented `kernel_type`."""

import textwrap

import pytest

from grammar.features import extract_features
from grammar.labels import KERNEL_TYPES, kernel_type, label_source

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
