"""Replacement modes: which chunks of a reasoning trace become latent codes in one training sample.

The trace's n tokens are cut into chunks of L (the last one may be partial). A mode picks the chunks
to replace; the sequence builder (sequence.py) swaps each picked chunk for its L/r codes and wraps each
run of picked chunks in <boLatent> … <eoLatent>. Every function here is pure: ints and lists in, a
sorted list of chunk indices out, randomness only from the `random.Random` passed in.

Replacing m tokens means the first m // L whole chunks (m is rounded down to whole chunks), or every
chunk, the partial last one included, once m reaches the trace's length.

    sol-only            no reasoning at all: P ⊕ S (handled by the builder; no chunk is picked)
    cot                 m = 0: the plain trace
    fixed               m = mode.m
    random-replace      m drawn uniformly from mode.m_choices for each sample, afresh each epoch;
                        m_choices None = every chunk count 0, 1, …, all chunks (0 to the whole trace)
    all-replace         every chunk, the partial last one included
    curriculum-replace  m = mode.stage_caps[stage]; the stage grows with the epoch (curriculum_stage)
    poisson-replace     each chunk independently with probability mode.latent_rate, at any position

The related methods use no latent codes: pause and icot build token sequences (pause.py, icot.py),
coconut and softcot feed vectors into the model (token_assorted.thoughts).
"""

from __future__ import annotations

import random
from typing import Sequence

from ..errors import ConfigError

MODES = (
    "sol-only", "cot", "random-replace", "all-replace", "curriculum-replace", "poisson-replace", "fixed",
    "pause", "icot", "coconut", "softcot",
)
RELATED_METHODS = ("pause", "icot", "coconut", "softcot")
CODE_FREE_MODES = ("sol-only", "cot", *RELATED_METHODS)  # these never show a latent code, so they need no VQ-VAE
PROMPTED_MODES = ("pause", "coconut", "softcot")  # evaluation feeds these something after the prompt (thoughts/)
# Names that stand for several modes in pipeline.methods: `all` the methods compared (the paper's table plus the
# related methods), `ablations` Token Assorted's ways of choosing what to replace; `all,ablations` is every mode.
METHOD_GROUPS = {
    "all": ("sol-only", "cot", "random-replace", *RELATED_METHODS),
    "ablations": ("cot", "random-replace", "all-replace", "curriculum-replace", "poisson-replace", "fixed"),
}


def needs_codes(mode_name: str) -> bool:
    return mode_name not in CODE_FREE_MODES


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


def stage_count(mode) -> int | None:
    """How many stages a curriculum of set stages has (curriculum-replace's, coconut's); None for other modes."""
    return {"curriculum-replace": len(mode.stage_caps), "coconut": mode.max_stage + 1}.get(mode.name)


def stage_for_epoch(mode, epoch: int, epochs: int) -> int:
    """The curriculum stage: curriculum-replace's and coconut's, the epoch for icot; 0 for every other mode."""
    if stages := stage_count(mode):
        return curriculum_stage(epoch, epochs, stages, mode.epochs_per_stage)
    return epoch if mode.name == "icot" else 0


def has_stages(mode_name: str) -> bool:
    return mode_name in ("curriculum-replace", "icot", "coconut")


def examples_change(mode_name: str) -> bool:
    """Whether a sample's training sequence changes as training goes on: a new draw each epoch, or a new stage."""
    return mode_name in ("random-replace", "poisson-replace") or has_stages(mode_name)


def replaced_chunks(mode, rng: random.Random, n_tokens: int, chunk_size: int, stage: int = 0) -> list[int]:
    """The chunks `mode` (a ModeConfig) replaces in a trace of n tokens. sol-only and cot replace none."""
    name = mode.name
    if name in CODE_FREE_MODES:
        return []
    if name == "fixed":
        return prefix_chunks(mode.m, n_tokens, chunk_size)
    if name == "random-replace":
        return random_replace(rng, n_tokens, chunk_size, mode.m_choices)
    if name == "all-replace":
        return all_replace(n_tokens, chunk_size)
    if name == "curriculum-replace":
        return curriculum_replace(n_tokens, chunk_size, stage, mode.stage_caps)
    if name == "poisson-replace":
        return poisson_replace(rng, n_tokens, chunk_size, mode.latent_rate)
    raise ConfigError(f"unknown mode '{name}'; choose one of: {', '.join(MODES)}")


def check_mode(mode) -> None:
    """Refuse a mode config that cannot work, before any training starts."""
    if mode.name not in MODES:
        raise ConfigError(f"unknown mode '{mode.name}'; choose one of: {', '.join(MODES)}")
    if mode.name == "fixed" and mode.m < 0:
        raise ConfigError(f"mode.m must be >= 0, got {mode.m}")
    if mode.name == "random-replace" and mode.m_choices is not None:
        if not mode.m_choices or min(mode.m_choices) < 0:
            raise ConfigError(f"mode.m_choices must be a non-empty list of m >= 0 (or null), got {mode.m_choices}")
    if mode.name == "curriculum-replace":
        caps = list(mode.stage_caps)
        if not caps or min(caps) < 0 or caps != sorted(caps):
            raise ConfigError(f"mode.stage_caps must be a non-empty, non-decreasing list of m >= 0, got {caps}")
        if mode.epochs_per_stage is not None and mode.epochs_per_stage < 1:
            raise ConfigError(f"mode.epochs_per_stage must be >= 1 (or null), got {mode.epochs_per_stage}")
    if mode.name == "poisson-replace" and not 0.0 <= mode.latent_rate <= 1.0:
        raise ConfigError(f"mode.latent_rate must lie in [0, 1], got {mode.latent_rate}")
    if mode.reset_optimizer and not has_stages(mode.name):
        raise ConfigError(f"mode.reset_optimizer resets at each new stage; mode {mode.name} has no stages")
    at_least = {"pause": ("pause_tokens", 1), "coconut": ("thoughts_per_step", 1), "softcot": ("soft_thoughts", 1)}
    if mode.name in at_least:
        key, low = at_least[mode.name]
        if getattr(mode, key) < low:
            raise ConfigError(f"mode.{key} must be >= {low}, got {getattr(mode, key)}")
    if mode.name == "coconut":
        if mode.max_stage < 0:
            raise ConfigError(f"mode.max_stage must be >= 0, got {mode.max_stage}")
        if mode.epochs_per_stage is not None and mode.epochs_per_stage < 1:
            raise ConfigError(f"mode.epochs_per_stage must be >= 1 (or null), got {mode.epochs_per_stage}")
    if mode.name == "icot":
        if mode.removed_per_epoch is not None and mode.removed_per_epoch < 1:
            raise ConfigError(f"mode.removed_per_epoch must be >= 1 (or null), got {mode.removed_per_epoch}")
        if mode.removal_smoothing is not None and mode.removal_smoothing <= 0:
            raise ConfigError(f"mode.removal_smoothing must be > 0 (or null), got {mode.removal_smoothing}")
