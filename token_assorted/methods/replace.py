"""Token Assorted's methods: the leftmost (or some) chunks of the reasoning trace become latent codes.

The trace's n tokens are cut into chunks of L (the last one may be partial). A method picks the chunks to replace;
each picked chunk becomes its L/r codes, each run of picked chunks wrapped in <boLatent> … <eoLatent>
(latent/sequence.py). Replacing m tokens means the first m // L whole chunks, or every chunk, the partial last one
included, once m reaches the trace's length. The methods differ only in which chunks they pick:

    random-replace      the paper's: m drawn uniformly from m_choices for each sample, afresh each epoch
    fixed               m = mode.m for every sample
    all-replace         every chunk
    curriculum-replace  m = stage_caps[stage], the stage growing with the epoch
    poisson-replace     each chunk independently with probability latent_rate, at any position

Every one of them takes mode.code_weight: how many times the training loss counts a latent-code token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from ..errors import ConfigError
from ..latent import chunks
from ..latent.example import with_prompt_masked
from ..latent.sequence import mix_reasoning
from .base import Method, MethodSettings, Samples


@dataclass
class ReplacementSettings(MethodSettings):
    # the training loss counts each latent-code token this many times (validation's loss counts it once): the
    # codes are words the base model never saw, the text around them it already writes
    code_weight: float = 1.0


class Replacement(Method):
    needs_codes = True
    Settings = ReplacementSettings
    code_ids: range | None = None

    def check(self):
        if self.settings.code_weight <= 0:
            raise ConfigError(f"mode.code_weight must be > 0, got {self.settings.code_weight}")

    def prepare(self, run):
        self.code_ids = run.vocab.code_id_range  # module() is given the model alone

    def module(self, model, optim):
        if self.settings.code_weight == 1:
            return super().module(model, optim)
        from ..lm.module import WeightedTokensModule

        return WeightedTokensModule(model, optim, self.code_ids, self.settings.code_weight)

    def picked(self, rng, n_tokens: int, chunk_size: int, stage: int) -> list[int]:
        raise NotImplementedError

    def example(self, row, codes, rng, stage, layout):
        reasoning = row["reasoning_ids"]
        picked = self.picked(rng, len(reasoning), layout.chunk_size, stage)
        middle = mix_reasoning(reasoning, codes, picked, layout.vocab, layout.chunk_size, layout.per_chunk)
        return with_prompt_masked(row["prompt_ids"], middle + list(row["solution_ids"]))


@dataclass
class RandomReplaceSettings(ReplacementSettings):
    # the m to draw from, uniformly (rounded down to whole chunks of L; m >= the trace = all of it); None = every
    # chunk count from none to the whole trace. The paper's math set: [0, 72, 128, 160, 192, 224, 256]
    m_choices: Optional[List[int]] = None


class RandomReplace(Replacement):
    name = "random-replace"
    Settings = RandomReplaceSettings
    samples = Samples.DRAWN

    def check(self):
        super().check()
        m_choices = self.settings.m_choices
        if m_choices is not None and (not m_choices or min(m_choices) < 0):
            raise ConfigError(f"mode.m_choices must be a non-empty list of m >= 0 (or null), got {m_choices}")

    def picked(self, rng, n_tokens, chunk_size, stage):
        return chunks.random_replace(rng, n_tokens, chunk_size, self.settings.m_choices)

    def replaced_cap(self):
        return max(self.settings.m_choices) if self.settings.m_choices else None


@dataclass
class FixedSettings(ReplacementSettings):
    m: int = 16  # the leftmost m reasoning tokens, for every sample


class Fixed(Replacement):
    name = "fixed"
    Settings = FixedSettings

    def check(self):
        super().check()
        self.at_least("m", 0)

    def picked(self, rng, n_tokens, chunk_size, stage):
        return chunks.prefix_chunks(self.settings.m, n_tokens, chunk_size)


class AllReplace(Replacement):
    name = "all-replace"

    def picked(self, rng, n_tokens, chunk_size, stage):
        return chunks.all_replace(n_tokens, chunk_size)


@dataclass
class CurriculumSettings(ReplacementSettings):
    # stage s replaces the leftmost stage_caps[s] tokens (whole chunks; the whole trace once the cap reaches it)
    stage_caps: List[int] = field(default_factory=lambda: [0, 16, 32, 64, 128, 256, 512])
    epochs_per_stage: Optional[int] = None  # None = finetune.epochs shared evenly over the stages, at least 1
    reset_optimizer: bool = False  # fresh AdamW moments at each new stage, as Coconut does


class CurriculumReplace(Replacement):
    name = "curriculum-replace"
    Settings = CurriculumSettings
    samples = Samples.STAGED

    def check(self):
        super().check()
        caps = list(self.settings.stage_caps)
        if not caps or min(caps) < 0 or caps != sorted(caps):
            raise ConfigError(f"mode.stage_caps must be a non-empty, non-decreasing list of m >= 0, got {caps}")
        self.at_least("epochs_per_stage", 1, allow_none=True)

    def stage_count(self):
        return len(self.settings.stage_caps)

    def picked(self, rng, n_tokens, chunk_size, stage):
        return chunks.curriculum_replace(n_tokens, chunk_size, stage, self.settings.stage_caps)


@dataclass
class PoissonSettings(ReplacementSettings):
    latent_rate: float = 0.5  # the expected share of chunks replaced, each run of them in its own latent block


class PoissonReplace(Replacement):
    name = "poisson-replace"
    Settings = PoissonSettings
    samples = Samples.DRAWN

    def check(self):
        super().check()
        if not 0.0 <= self.settings.latent_rate <= 1.0:
            raise ConfigError(f"mode.latent_rate must lie in [0, 1], got {self.settings.latent_rate}")

    def picked(self, rng, n_tokens, chunk_size, stage):
        return chunks.poisson_replace(rng, n_tokens, chunk_size, self.settings.latent_rate)
