"""Shrinking a failure to a minimal kernel with Hypothesis.

A failure found from a seed is a failure *class* (compile, crash, gradient,
...).  `shrink` asks Hypothesis for a kernel of the grammar
(`grammar.strategies.kernels()`) that shows the same class and lets it shrink
that one: decisions move towards fewer statements, switched-off features and
the first option of every choice, so what comes back is small.  If Hypothesis
meets no kernel of that class within its budget, the original kernel is kept
(and the finding says it is not shrunk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from emit import execute
from emit.findings import Finding
from grammar.strategies import DrawnKernel, kernels

#: Kernels Hypothesis may try while searching for and shrinking a failure.
MAX_EXAMPLES = 60


def shrink(fails: Callable[[DrawnKernel], bool], max_examples: int = MAX_EXAMPLES) -> DrawnKernel | None:
    """The smallest kernel Hypothesis finds for which `fails` holds, or None."""
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import HypothesisException

    config = settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    try:
        return find(kernels(), fails, settings=config)
    except HypothesisException:  # none found, or a predicate that does not reproduce (flaky)
        return None


def shrink_failure(
    finding: Finding, fails: Callable[[DrawnKernel], bool], max_examples: int = MAX_EXAMPLES
) -> Finding:
    """`finding` with its kernel replaced by a shrunk one of the same failure class, if found."""
    small = shrink(fails, max_examples)
    if small is None or len(small.source) >= len(finding.source):
        return finding
    shrunk = replace(finding, source=small.source, kernel_name=small.kernel_name, shrunk=True)
    if finding.inputs is None:
        return shrunk
    for _, kernel in execute.load_kernels([(small.source, small.kernel_name)]):
        params = execute.kernel_params(kernel)
        return replace(shrunk, params=params, inputs=execute.draw_inputs(params, finding.seed or 0))
    return finding
