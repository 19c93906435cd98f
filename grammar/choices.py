"""Where the grammar's decisions come from.

Every production asks a `Choices` object, never `random` directly.  Two
sources implement it:

- `SeededChoices`: a `random.Random(seed)`.  Fast (well under Warp's codegen
  cost per kernel), and the same seed gives the same kernel in any process.
  The dataset is drawn this way; a record's `metadata.seed` regenerates it.
- `HypothesisChoices`: each decision is a Hypothesis draw, so `@given` tests
  explore the same grammar and Hypothesis can shrink a failing kernel.
  Draws are ordered so that shrinking (towards 0) moves towards the first
  option, `False`, and the low end of ranges: the simplest program.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Choices(Protocol):
    def integer(self, lo: int, hi: int) -> int:
        """A uniform integer in [lo, hi]."""
        ...

    def boolean(self, p: float = 0.5) -> bool:
        """True with probability p."""
        ...

    def weighted(self, options: Sequence[T], weights: Sequence[float]) -> T:
        """One of `options`, chosen in proportion to `weights`."""
        ...

    def real(self, lo: float, hi: float) -> float:
        """A float in [lo, hi]."""
        ...


def choice(ch: Choices, options: Sequence[T]) -> T:
    """One of `options`, uniformly."""
    return options[ch.integer(0, len(options) - 1)]


class SeededChoices:
    """Decisions from a seeded `random.Random`: deterministic and cheap."""

    def __init__(self, seed: int):
        self._rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self._rng.randint(lo, hi)

    def boolean(self, p: float = 0.5) -> bool:
        return self._rng.random() < p

    def weighted(self, options: Sequence[T], weights: Sequence[float]) -> T:
        return self._rng.choices(options, weights)[0]

    def real(self, lo: float, hi: float) -> float:
        return self._rng.uniform(lo, hi)


class HypothesisChoices:
    """Decisions drawn from Hypothesis, so failing kernels shrink."""

    _RESOLUTION = 1000

    def __init__(self, draw: Callable[[Any], Any]):
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        from hypothesis import strategies as st

        return self._draw(st.integers(lo, hi))

    def boolean(self, p: float = 0.5) -> bool:
        # shrinks to 0, i.e. to False: features switch off when shrinking
        return self.integer(0, self._RESOLUTION - 1) >= self._RESOLUTION * (1 - p)

    def weighted(self, options: Sequence[T], weights: Sequence[float]) -> T:
        scaled = [max(1, round(w * 100)) for w in weights]
        x = self.integer(0, sum(scaled) - 1)
        for option, w in zip(options, scaled, strict=True):
            if x < w:
                return option
            x -= w
        raise AssertionError("unreachable")

    def real(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.integer(0, self._RESOLUTION) / self._RESOLUTION
