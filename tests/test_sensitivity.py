"""Run time: every input changes some output (`benchmarks/measures/sensitivity.py`)."""

import ast

import pytest

from benchmarks.measures.sensitivity import Figures, measure, measure_sources
from grammar import spans
from grammar.builtins import VALUE_RANGE
from grammar.sample import sample
from grammar.types import BY_WARP_NAME

UINT8 = BY_WARP_NAME["uint8"]

#: `b` decides nothing (it is never above 100) and `c` is a constant: half of each figure.
HALF = """import warp as wp

F = wp.array(dtype=float)

@wp.kernel
def k(a: F, b: F, out: F, c: F):
    i = wp.tid()
    out[i] = a[i] + wp.where(b[i] > 100.0, 1.0, 0.0)
    c[i] = wp.where(a[i] > 100.0, 1.0, 2.0)
"""


def test_the_figures_count_what_changes():
    figures = Figures()
    measure_sources([(HALF, "k", 7)], figures)
    assert figures.kernels == 1
    assert figures.counts["outputs"] == [1, 2]
    assert figures.counts["inputs"] == [1, 2]
    assert figures.share("elements") == 0.5
    assert figures.hollow == figures.deaf == [7]


@pytest.fixture(scope="module")
def figures():
    """Seeds 0..59 at generator 0.5.0: all 60 ran; outputs 0.808 of 78, inputs 0.629 of 124,
    elements 0.730 of 1,713 (`benchmarks/sensitivity.py` gives the figures of 300)."""
    return measure(range(60))


def test_nearly_every_kernel_runs(figures):
    assert figures.kernels >= 57  # the others the executor cannot launch within the contract


def test_outputs_change_with_their_inputs(figures):
    assert figures.share("outputs") >= 0.78


def test_each_input_changes_some_output(figures):
    assert figures.share("inputs") >= 0.60


def test_output_elements_change_with_the_inputs(figures):
    assert figures.share("elements") >= 0.70


# ----------------------------------------------------------------------------- value intervals


def _loop_comparisons(tree):
    """(n, k) for each comparison of the variable of `for v in range(n)` (n a literal) with an int
    literal k."""
    found = []
    for loop in ast.walk(tree):
        if not (isinstance(loop, ast.For) and isinstance(loop.target, ast.Name)):
            continue
        bound = loop.iter.args[0] if loop.iter.args else None
        if not isinstance(bound, ast.Constant):
            continue
        for c in (
            n for s in loop.body for n in ast.walk(s) if isinstance(n, ast.Compare) and len(n.ops) == 1
        ):
            sides = (c.left, c.comparators[0])
            if any(isinstance(x, ast.Name) and x.id == loop.target.id for x in sides):
                other = (
                    sides[1] if isinstance(sides[0], ast.Name) and sides[0].id == loop.target.id else sides[0]
                )
                if isinstance(other, ast.Constant) and isinstance(other.value, int):
                    found.append((bound.value, other.value))
    return found


def test_a_loop_variable_is_compared_inside_its_range():
    """`k < -7` with k in range(2) is settled before the kernel runs (`grammar.spans`)."""
    found = [pair for seed in range(400) for pair in _loop_comparisons(sample(seed).tree)]
    assert len(found) >= 5, found
    assert all(0 <= k <= n - 1 for n, k in found), found


def test_spans_of_builtins():
    assert spans.square((-2.0, 1.0)) == (0.0, 4.0)
    assert spans.SIGN((0.1, 7.0)) == (1.0, 1.0)  # `wp.sign(wp.exp(x))` is a constant
    assert VALUE_RANGE["tanh"]((-2.0, 2.0))[1] < 1.0
    assert not spans.overlapping((0.0, 12.0), (-2.0, 0.5))
    assert spans.overlapping((-2.0, 2.0), (0.0, 12.0), margin=0.1)
    assert spans.input_span(UINT8, array=True) == (0.0, 255.0)
    # `wp.pow(wp.abs(x) + 1.0, wp.clamp(e, -8.0, 8.0))` is never negative: `< -1.5` decides nothing
    assert VALUE_RANGE["pow"]((1.0, 3.0), (-1.0, 2.0)) == (1 / 3, 9.0)
    assert VALUE_RANGE["clamp"](None, (-4.0, -4.0), (9.0, 9.0)) == (-4.0, 9.0)  # a loop's running value
    assert VALUE_RANGE["cross"]((0.5, 0.5), (2.0, 2.0)) == (0.0, 0.0)  # two splats are parallel
