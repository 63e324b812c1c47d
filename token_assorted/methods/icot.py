"""Stepwise internalization (iCoT, Deng et al., 2024): in epoch e the leftmost e × removed_per_epoch reasoning
tokens are dropped (None: as many as it takes for the last epoch to train direct answers). Removal smoothing
(lambda, None = off) drops o more tokens per sample, P(o) ~ exp(-lambda o); the paper uses 4."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from ..errors import ConfigError
from ..latent.icot import icot_example, removal_per_epoch, removed_tokens
from .base import Method, MethodSettings, Samples


@dataclass
class ICoTSettings(MethodSettings):
    removed_per_epoch: Optional[int] = None
    removal_smoothing: Optional[float] = None
    reset_optimizer: bool = False  # fresh AdamW moments at each new stage (each epoch), as Coconut does


class ICoT(Method):
    name = "icot"
    Settings = ICoTSettings
    samples = Samples.STAGED

    def check(self):
        self.at_least("removed_per_epoch", 1, allow_none=True)
        if self.settings.removal_smoothing is not None and self.settings.removal_smoothing <= 0:
            raise ConfigError(f"mode.removal_smoothing must be > 0 (or null), got {self.settings.removal_smoothing}")

    def stage_for_epoch(self, epoch, epochs):
        return epoch  # its stage is the epoch

    def prepare(self, run):
        """The rate, where not set: the least that has removed the longest training trace by the last epoch."""
        longest = max(len(row["reasoning_ids"]) for row in run.data["train"])
        per_epoch = removal_per_epoch(self.settings.removed_per_epoch, longest, run.cfg.finetune.epochs)
        self.settings = replace(self.settings, removed_per_epoch=per_epoch)

    def example(self, row, codes, rng, stage, layout):
        s = self.settings
        removed = removed_tokens(len(row["reasoning_ids"]), stage, s.removed_per_epoch, rng, s.removal_smoothing)
        return icot_example(row, removed)

    def save(self, directory, stage):
        per_epoch = self.settings.removed_per_epoch
        return {"removed_per_epoch": per_epoch, "removed_in_last_epoch": stage * per_epoch}
