"""Start here: one seed -> one kernel (`sample`), the same in every process.

The seed decides everything: first the kernel type the policy aims at, then
the policy, then the program.  If the program's computed label misses the aim
(the label is computed from the AST, never assumed), the same decision stream
tries again, a bounded number of times; the label stays honest either way.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from grammar.choices import Choices, SeededChoices, choice
from grammar.features import Features, extract_features
from grammar.kernel import generate_module
from grammar.labels import KERNEL_TYPES, kernel_type
from grammar.policy import DIFFERENTIABLE_FOCUS, Policy, draw_policy

#: Tries to hit the aimed-at kernel type before keeping what came out.
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Sample:
    """A generated module and what is known about it."""

    seed: int
    tree: ast.Module
    kernel_name: str
    policy: Policy
    features: Features
    kernel_type: str


def focus_of(seed: int, differentiable: bool = False) -> str:
    """The kernel type seed `seed` aims at: its first decision, cheap to compute alone."""
    return choice(SeededChoices(seed), DIFFERENTIABLE_FOCUS if differentiable else KERNEL_TYPES)


def generate(ch: Choices, focus: str, differentiable: bool = False) -> tuple[ast.Module, str, Policy]:
    """One module aimed at `focus`, from any source of decisions."""
    policy = draw_policy(ch, focus, differentiable)
    tree, name = generate_module(ch, policy)
    return tree, name, policy


def sample(seed: int, differentiable: bool = False) -> Sample:
    """The kernel of `seed` (under a differentiable policy: float data flow for gradient checks)."""
    ch = SeededChoices(seed)
    focus = choice(ch, DIFFERENTIABLE_FOCUS if differentiable else KERNEL_TYPES)
    for _ in range(MAX_ATTEMPTS):
        tree, name, policy = generate(ch, focus, differentiable)
        features = extract_features(tree)
        label = kernel_type(features)
        if label == focus:
            break
    return Sample(seed, tree, name, policy, features, label)
