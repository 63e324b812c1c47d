"""Which chunks of a reasoning trace become latent codes: the picking rules of the replacement methods
(methods/replace.py). Every function here is pure: ints and lists in, a sorted list of chunk indices out,
randomness only from the `random.Random` passed in.

The trace's n tokens are cut into chunks of L (the last one may be partial). Replacing m tokens means the first
m // L whole chunks (m is rounded down to whole chunks), or every chunk, the partial last one included, once m
reaches the trace's length.
"""

from __future__ import annotations

import random
from typing import Sequence


def chunk_count(n_tokens: int, chunk_size: int) -> int:
    """Chunks of a trace of n tokens, the partial last one included."""
    return -(-n_tokens // chunk_size)


def prefix_chunks(m: int, n_tokens: int, chunk_size: int) -> list[int]:
    """The chunks that replacing the leftmost m tokens covers: whole chunks only, or all once m >= n."""
    count = chunk_count(n_tokens, chunk_size) if m >= n_tokens else m // chunk_size
    return list(range(count))


def random_replace(rng: random.Random, n_tokens: int, chunk_size: int, m_choices: Sequence[int] | None) -> list[int]:
    if m_choices is None:
        return list(range(rng.randint(0, chunk_count(n_tokens, chunk_size))))
    return prefix_chunks(rng.choice(list(m_choices)), n_tokens, chunk_size)


def all_replace(n_tokens: int, chunk_size: int) -> list[int]:
    return list(range(chunk_count(n_tokens, chunk_size)))


def curriculum_replace(n_tokens: int, chunk_size: int, stage: int, stage_caps: Sequence[int]) -> list[int]:
    return prefix_chunks(stage_caps[stage], n_tokens, chunk_size)


def poisson_replace(rng: random.Random, n_tokens: int, chunk_size: int, latent_rate: float) -> list[int]:
    return [chunk for chunk in range(chunk_count(n_tokens, chunk_size)) if rng.random() < latent_rate]


def curriculum_stage(epoch: int, epochs: int, stages: int, epochs_per_stage: int | None = None) -> int:
    """Stage of an epoch: epochs_per_stage epochs each (default: the epochs shared evenly), then the last stays."""
    per_stage = epochs_per_stage or max(1, epochs // stages)
    return min(epoch // per_stage, stages - 1)
