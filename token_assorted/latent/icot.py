"""Stepwise internalization (iCoT, Deng et al., 2024): reasoning tokens removed from the left on a schedule.

In epoch e the leftmost e × removed_per_epoch reasoning tokens are dropped: P ⊕ c_{k+1} … c_n ⊕ S, the
loss on everything after P. Once k reaches n the model is trained to answer directly. Removal smoothing
drops o more tokens in a sample, o drawn with P(o) ∝ exp(-λ o), so that a step of the schedule is never
seen for the first time all at once.
"""

from __future__ import annotations

import math
import random
from typing import Sequence

from .example import Example, with_prompt_masked


def removal_per_epoch(removed_per_epoch: int | None, longest_trace: int, epochs: int) -> int:
    """The configured rate, or (None) the least one that has removed every trace by the last epoch."""
    if removed_per_epoch is not None:
        return removed_per_epoch
    return max(1, math.ceil(longest_trace / max(1, epochs - 1)))


def smoothing_offset(rng: random.Random, smoothing: float | None) -> int:
    """o >= 0 with P(o) ∝ exp(-smoothing · o) (a geometric draw); 0 without smoothing."""
    if smoothing is None:
        return 0
    return int(-math.log(1.0 - rng.random()) / smoothing)


def removed_tokens(n_tokens: int, epoch: int, per_epoch: int, rng: random.Random, smoothing: float | None) -> int:
    return min(n_tokens, epoch * per_epoch + smoothing_offset(rng, smoothing))


def icot_example(row: dict, removed: int) -> Example:
    reasoning: Sequence[int] = row["reasoning_ids"]
    return with_prompt_masked(row["prompt_ids"], list(reasoning[removed:]) + list(row["solution_ids"]))
