"""Batches for methods that put vectors, not tokens, at some positions: the thoughts of Coconut and SoftCoT.

Every row of a batch has the same number T of thought positions, so the prefix (the question, and <bot>
for Coconut) is padded on the left and the suffix on the right: the thoughts then sit in the same columns
T columns for every row, and one batched forward pass per thought serves the whole batch.

    [pad … pad  prefix][θ_1 … θ_T][suffix  pad … pad]
                       ^ thought_start
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..data.padding import padded
from ..errors import DataError
from ..latent import IGNORE


@dataclass(frozen=True)
class ThoughtExample:
    prefix: list[int]  # ids before the thoughts; the loss skips them
    suffix: list[int]  # ids after the thoughts
    suffix_labels: list[int]  # the suffix's labels (IGNORE where the loss skips a position)


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token, whatever the padding on its left."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


def left_padded(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = padded(rows, pad_id, left=True)
    return ids, mask.long()


def thought_batch(examples: Sequence[ThoughtExample], thoughts: int, placeholder_id: int, pad_id: int) -> dict:
    """input_ids, attention_mask, labels and where the `thoughts` columns start (thought_start)."""
    prefix_ids, prefix_mask = left_padded([e.prefix for e in examples], pad_id)
    suffix_ids, suffix_mask = padded([e.suffix for e in examples], pad_id)
    suffix_labels, _ = padded([e.suffix_labels for e in examples], IGNORE, width=suffix_ids.shape[1])
    thought_ids = torch.full((len(examples), thoughts), placeholder_id, dtype=torch.long)
    return {
        "input_ids": torch.cat([prefix_ids, thought_ids, suffix_ids], 1),
        "attention_mask": torch.cat([prefix_mask, torch.ones_like(thought_ids), suffix_mask.long()], 1),
        "labels": torch.cat(
            [torch.full_like(prefix_ids, IGNORE), torch.full_like(thought_ids, IGNORE), suffix_labels], 1
        ),
        "thought_start": prefix_ids.shape[1],
        "thoughts": thoughts,
    }


def check_length(example: ThoughtExample, thoughts: int, max_length: int, mode: str, file, index: int) -> None:
    length = len(example.prefix) + thoughts + len(example.suffix)
    if length > max_length:
        raise DataError(
            f"the {mode} sample has {length} positions, more than the model's limit of {max_length}",
            file=file, record=index,
        )
