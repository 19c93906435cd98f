"""Start here: one seed -> one kernel (`sample`), the same in every process.

The seed decides everything: first the kernel type the policy aims at, then
the policy, then the program.  If the program's computed label misses the aim
(the label is computed from the AST, never assumed), the same decision stream
tries again, a bounded number of times; the label stays honest either way.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
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


#: Offsets the seed of the second stream `aim` draws from (any constant: it only picks a type).
AIM_STREAM = 0x5EED_A1A1


def focus_of(seed: int, differentiable: bool = False) -> str:
    """The kernel type seed `seed` aims at: its first decision, cheap to compute alone."""
    return choice(SeededChoices(seed), DIFFERENTIABLE_FOCUS if differentiable else KERNEL_TYPES)


def aim(seed: int, types: Sequence[str]) -> str:
    """The kernel type seed `seed` aims at in a run of only `types` (`--types`): its own focus where that
    is one of them, else one drawn from them by a second stream of the seed, so no candidate is wasted.
    The record keeps it (`metadata.policy_focus`): `sample(seed, focus=...)` gives the kernel back."""
    drawn = focus_of(seed)
    return drawn if drawn in types else choice(SeededChoices(seed + AIM_STREAM), tuple(types))


def generate(ch: Choices, focus: str, differentiable: bool = False) -> tuple[ast.Module, str, Policy]:
    """One module aimed at `focus`, from any source of decisions."""
    policy = draw_policy(ch, focus, differentiable)
    tree, name = generate_module(ch, policy)
    return tree, name, policy


def sample(seed: int, differentiable: bool = False, focus: str | None = None) -> Sample:
    """The kernel of `seed` (under a differentiable policy: float data flow for gradient checks).

    `focus` replaces the type the seed's first decision aims at (`aim`); that decision is drawn all
    the same, so the rest of the stream, and with the seed's own focus the kernel, is the same."""
    ch = SeededChoices(seed)
    drawn = choice(ch, DIFFERENTIABLE_FOCUS if differentiable else KERNEL_TYPES)
    focus = focus or drawn
    for _ in range(MAX_ATTEMPTS):
        tree, name, policy = generate(ch, focus, differentiable)
        features = extract_features(tree)
        label = kernel_type(features)
        if label == focus:
            break
    return Sample(seed, tree, name, policy, features, label)
