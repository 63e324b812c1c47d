"""Continuous thoughts (Coconut, Hao et al., 2024): stage k replaces the first k reasoning steps with
k × thoughts_per_step continuous thoughts (the last hidden state fed back as the next input embedding) between
<bot> and <eot>; stages last epochs_per_stage epochs (None: the epochs shared evenly over stages 0..max_stage).
Evaluation uses the thoughts of the stage training ended in (stored with the model). thoughts/coconut.py holds
the batches, the loss and the embedder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..thoughts.prompting import Prompting, write_thoughts
from .base import Method, MethodSettings, Samples


@dataclass
class CoconutSettings(MethodSettings):
    thoughts_per_step: int = 1
    max_stage: int = 6  # the last curriculum stage: k steps replaced at stage k
    epochs_per_stage: Optional[int] = None
    reset_optimizer: bool = True  # as Coconut: each stage starts with fresh AdamW moments


class Coconut(Method):
    name = "coconut"
    Settings = CoconutSettings
    prompted = True
    samples = Samples.STAGED
    ids = None  # thoughts.coconut.CoconutIds, once prepared

    def check(self):
        self.at_least("thoughts_per_step", 1)
        self.at_least("max_stage", 0)
        self.at_least("epochs_per_stage", 1, allow_none=True)

    def stage_count(self):
        return self.settings.max_stage + 1

    def prepare(self, run):
        from ..thoughts.coconut import add_coconut_tokens

        self.ids = add_coconut_tokens(run.tokenizer, run.model)

    def collator(self, run, split):
        from ..thoughts.coconut import CoconutCollator

        return CoconutCollator(self.settings, self.ids, pad_id=run.tokenizer.pad_token_id, max_length=run.max_length,
                               file=run.file(split))

    def module(self, model, optim):
        from ..thoughts.module import CoconutModule

        return CoconutModule(model, optim)

    def save(self, directory, stage):
        """The thoughts of the stage training ended in: what evaluation uses (never chosen at evaluation time)."""
        thoughts = stage * self.settings.thoughts_per_step
        write_thoughts(directory, self.name, thoughts, stage=stage, begin_id=self.ids.begin, end_id=self.ids.end,
                       thought_id=self.ids.thought)
        return {"thoughts": thoughts}

    @classmethod
    def prompting(cls, spec, checkpoint, device):
        from ..thoughts.coconut import CoconutIds, coconut_embedder

        ids, count = CoconutIds(spec["begin_id"], spec["end_id"], spec["thought_id"]), spec["thoughts"]
        return Prompting(suffix_ids=(ids.begin,), embed=coconut_embedder(checkpoint.model, ids, count),
                         thought_tokens=count + 2)
