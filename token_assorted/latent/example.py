"""One training sample as ids and labels; the loss skips positions labelled IGNORE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

IGNORE = -100  # label of a position the loss skips


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]


def with_prompt_masked(prompt: Sequence[int], rest: Sequence[int]) -> Example:
    return Example(list(prompt) + list(rest), [IGNORE] * len(prompt) + list(rest))
