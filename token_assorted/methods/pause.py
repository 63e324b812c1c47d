"""Pause tokens (Goyal et al., 2023): P ⊕ <pause> × pause_tokens ⊕ S, no reasoning trace; the loss skips the
pauses. At evaluation the same pauses follow every prompt; they count as generated tokens, reported apart."""

from __future__ import annotations

from dataclasses import dataclass

from ..latent.pause import PAUSE, pause_example
from ..thoughts.prompting import Prompting, write_thoughts
from .base import Method, MethodSettings


@dataclass
class PauseSettings(MethodSettings):
    pause_tokens: int = 10  # between question and answer, in training and evaluation


class Pause(Method):
    name = "pause"
    Settings = PauseSettings
    prompted = True
    trace_share = 0.0
    pause_id: int | None = None

    def check(self):
        self.at_least("pause_tokens", 1)

    def prepare(self, run):
        from ..latent.special import add_mean_rows, add_special_tokens

        (self.pause_id,), new = add_special_tokens(run.tokenizer, [PAUSE])
        add_mean_rows(run.model, new)

    def example(self, row, codes, rng, stage, layout):
        return pause_example(row, self.pause_id, self.settings.pause_tokens)

    def save(self, directory, stage):
        write_thoughts(directory, self.name, self.settings.pause_tokens, pause_id=self.pause_id)
        return {}

    @classmethod
    def prompting(cls, spec, checkpoint, device):
        return Prompting(suffix_ids=(spec["pause_id"],) * spec["thoughts"], thought_tokens=spec["thoughts"])
