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
from .modes import chunk_count, replaced_chunks
from .vocab import LatentVocab

IGNORE = -100  # label of a position the loss skips


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]


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


def with_prompt_masked(prompt: Sequence[int], rest: Sequence[int]) -> Example:
    return Example(list(prompt) + list(rest), [IGNORE] * len(prompt) + list(rest))


def build_example(
    row: dict,
    codes: Sequence[int],
    mode,
    rng: random.Random,
    vocab: LatentVocab,
    chunk_size: int,
    per_chunk: int,
    stage: int = 0,
) -> Example:
    """X̃ for one encoded record (prompt_ids, reasoning_ids, solution_ids) under `mode` (a ModeConfig)."""
    if mode.name == "sol-only":
        return with_prompt_masked(row["prompt_ids"], row["solution_ids"])
    reasoning = row["reasoning_ids"]
    replaced = replaced_chunks(mode, rng, len(reasoning), chunk_size, stage)
    middle = mix_reasoning(reasoning, codes, replaced, vocab, chunk_size, per_chunk)
    return with_prompt_masked(row["prompt_ids"], middle + list(row["solution_ids"]))


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    """The generator for one sample's draw in one epoch: reproducible, and fresh each epoch."""
    return random.Random(f"{seed}:{epoch}:{index}")
