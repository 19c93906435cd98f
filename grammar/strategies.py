"""Hypothesis strategies over the grammar: the same productions, decisions drawn by Hypothesis.

`kernels()` draws whole modules; failing ones shrink towards fewer
statements, switched-off features and the first option of every choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from grammar.choices import HypothesisChoices, choice
from grammar.features import extract_features
from grammar.labels import KERNEL_TYPES, kernel_type
from grammar.sample import generate
from grammar.unparse import to_source


@dataclass(frozen=True)
class DrawnKernel:
    """A module drawn by Hypothesis, as source text."""

    source: str
    kernel_name: str
    kernel_type: str


@st.composite
def kernels(draw: st.DrawFn, focus: str | None = None) -> DrawnKernel:
    """A generated module aimed at `focus` (any kernel type if None)."""
    ch = HypothesisChoices(draw)
    aim = focus or choice(ch, KERNEL_TYPES)
    tree, name, _ = generate(ch, aim)
    return DrawnKernel(to_source(tree), name, kernel_type(extract_features(tree)))
