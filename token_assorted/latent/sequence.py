"""Building a training sample X̃ from a record's token ids and its cached latent codes.

    P ⊕ <boLatent> z_1 … z_{m/r} <eoLatent> ⊕ c_{m+1} … c_{t_c} ⊕ S

Chunk j of the trace (tokens j·L … j·L+L-1) has the codes codes[j·c : (j+1)·c], c = codes per chunk (L/r,
or L/r times the residual stages of an RVQ). Each maximal run of replaced chunks becomes one latent block.
The loss covers everything after the prompt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from ..errors import DataError
from .chunks import chunk_count
from .example import IGNORE, Example, with_prompt_masked
from .vocab import LatentVocab

__all__ = ["IGNORE", "Example", "LatentLayout", "mix_reasoning", "sample_rng", "with_prompt_masked"]


@dataclass(frozen=True)
class LatentLayout:
    """How a trace's chunks map to latent tokens: the vocabulary's ids, L tokens per chunk, codes per chunk."""

    vocab: LatentVocab
    chunk_size: int
    per_chunk: int


def mix_reasoning(
    reasoning: Sequence[int],
    codes: Sequence[int],
    replaced: Sequence[int],
    vocab: LatentVocab,
    chunk_size: int,
    per_chunk: int,
) -> list[int]:
    """The trace with the `replaced` chunks swapped for their codes (per_chunk each), each run wrapped in delimiters."""
    chunks = chunk_count(len(reasoning), chunk_size)
    if replaced and len(codes) != chunks * per_chunk:
        raise DataError(
            f"{len(codes)} latent codes for a trace of {len(reasoning)} tokens; expected {chunks} chunks × "
            f"{per_chunk} = {chunks * per_chunk} (the codes were made with another tokenizer or chunk size)"
        )
    picked = set(replaced)
    out: list[int] = []
    for chunk in range(chunks):
        if chunk not in picked:
            out.extend(reasoning[chunk * chunk_size : (chunk + 1) * chunk_size])
            continue
        if chunk - 1 not in picked:
            out.append(vocab.begin_id)
        out.extend(vocab.code_ids(codes[chunk * per_chunk : (chunk + 1) * per_chunk]))
        if chunk + 1 not in picked:
            out.append(vocab.end_id)
    return out


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    """The generator for one sample's draw in one epoch: reproducible, and fresh each epoch."""
    return random.Random(f"{seed}:{epoch}:{index}")
