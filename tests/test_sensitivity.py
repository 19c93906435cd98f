"""Run time: every input changes some output (`check/sensitivity.py`, issue: observable at run time)."""

import pytest

from check.sensitivity import measure, measure_sources

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
    figures = measure_sources([(HALF, "k", 7)])
    assert figures.kernels == 1
    assert figures.counts["outputs"] == [1, 2]
    assert figures.counts["inputs"] == [1, 2]
    assert figures.share("elements") == 0.5
    assert figures.hollow == figures.deaf == [7]


@pytest.fixture(scope="module")
def figures():
    return measure(range(60))


def test_nearly_every_kernel_runs(figures):
    assert figures.kernels >= 57  # the others the executor cannot launch within the contract


def test_outputs_change_with_their_inputs(figures):
    assert figures.share("outputs") >= 0.70


def test_each_input_changes_some_output(figures):
    assert figures.share("inputs") >= 0.50


def test_output_elements_change_with_the_inputs(figures):
    assert figures.share("elements") >= 0.65
