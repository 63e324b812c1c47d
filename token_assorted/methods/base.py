"""What a method is to the rest of the toolkit: its settings, and its answers to the questions every stage asks.

A method is a `Method` subclass in one module of token_assorted/methods/, registered by name (methods/__init__.py).
Its `Settings` dataclass is its config: `mode=<name>` selects it and Hydra refuses a key it does not have. An
instance holds those settings; the class attributes say what the method needs without them.

    needs_codes     its training samples show latent codes, so the fine-tune needs a trained VQ-VAE
    trains_lm       it trains the LM built by the fine-tune (False: SoftCoT, whose LMs are frozen)
    prompted        evaluation feeds the model something after the prompt (prompting())
    samples         when a record's training sample changes: never (FIXED), drawn afresh every epoch (DRAWN), or
                    with a curriculum stage as training goes on (STAGED)
    trace_share     the share of the reasoning trace it reads and writes as text (the pipeline's cost estimates)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import ClassVar

from ..config import MethodSettings
from ..errors import ConfigError
from ..latent.chunks import curriculum_stage
from ..latent.example import Example, with_prompt_masked
from ..latent.sequence import LatentLayout


class Samples(Enum):
    """When a record's training sample changes as training goes on."""

    FIXED = "fixed"
    DRAWN = "drawn"  # afresh every epoch
    STAGED = "staged"  # with the curriculum's stage


@dataclass(frozen=True)
class Prerequisite:
    """A model a method's fine-tune needs made first (SoftCoT's frozen LMs): the stage config's groups (as
    `pipeline.stage_config` takes them) and the name of the job of this run that makes it, if one may."""

    label: str
    groups: dict
    job: str | None = None


class Method:
    name: ClassVar[str]
    Settings: ClassVar[type] = MethodSettings
    needs_codes: ClassVar[bool] = False
    trains_lm: ClassVar[bool] = True
    prompted: ClassVar[bool] = False
    samples: ClassVar[Samples] = Samples.FIXED
    trace_share: ClassVar[float] = 0.5

    def __init__(self, settings):
        self.settings = settings
        self.check()

    def check(self) -> None:
        """Refuse settings that cannot work, before any training starts."""

    def at_least(self, key: str, low, allow_none: bool = False) -> None:
        value = getattr(self.settings, key)
        if value is None and allow_none:
            return
        if value is None or value < low:
            raise ConfigError(f"mode.{key} must be >= {low}{' (or null)' if allow_none else ''}, got {value}")

    # -- training ---------------------------------------------------------------------------------------------
    @classmethod
    def uses_vqvae(cls, cfg) -> bool:
        """The fine-tune reads the VQ-VAE: for its codes, or to start the latent embeddings from its codebook."""
        return cls.trains_lm and (cls.needs_codes or cfg.model.latent_init == "codebook")

    def setup(self, cfg, progress: bool):
        """What the fine-tune trains (a lm.setup.Setup): by default the whole LM, built as lm/setup.py says, with
        the hooks below."""
        from ..lm.setup import lm_setup

        return lm_setup(cfg, self, progress)

    @property
    def reset_optimizer(self) -> bool:
        """Fresh optimizer moments at each new stage."""
        return getattr(self.settings, "reset_optimizer", False)

    def stage_count(self) -> int | None:
        """How many stages a curriculum of set stages has; None for a method without one."""
        return None

    def stage_for_epoch(self, epoch: int, epochs: int) -> int:
        if stages := self.stage_count():
            return curriculum_stage(epoch, epochs, stages, self.settings.epochs_per_stage)
        return 0

    @property
    def samples_change(self) -> bool:
        return self.samples is not Samples.FIXED

    @property
    def staged(self) -> bool:
        return self.samples is Samples.STAGED

    def prepare(self, run) -> None:
        """Adapt the model and the tokenizer before training (`run`: a lm.setup.LMRun); add what the method needs."""

    def example(self, row: dict, codes, rng: random.Random, stage: int, layout: LatentLayout) -> Example:
        """X̃ for one encoded record (prompt_ids, reasoning_ids, solution_ids): the plain trace by default."""
        return with_prompt_masked(row["prompt_ids"], list(row["reasoning_ids"]) + list(row["solution_ids"]))

    def collator(self, run, split: str):
        """The collator of a split's training samples: `example` drawn per sample, right-padded."""
        from ..lm.batches import MixingCollator

        return MixingCollator(self, run.layout, run.latents.splits[split] if run.latents.splits else None,
                              pad_id=run.tokenizer.pad_token_id, max_length=run.max_length, seed=run.cfg.seed,
                              file=run.file(split))

    def module(self, model, optim):
        from ..lm.module import CausalLMModule

        return CausalLMModule(model, optim)

    def save(self, directory: Path, stage: int) -> dict:
        """Write the method's own files beside the saved model; returns fields for meta.json."""
        return {}

    # -- evaluation -------------------------------------------------------------------------------------------
    @classmethod
    def prompting(cls, spec: dict | None, checkpoint, device):
        """How evaluation feeds a test prompt to the model, from the checkpoint's thoughts.json (`spec`)."""
        from ..thoughts.prompting import TEXT

        return TEXT

    # -- pipeline ---------------------------------------------------------------------------------------------
    @classmethod
    def inputs(cls, cfg) -> dict[str, str | None]:
        """The checksums of the models the fine-tune reads besides the train split (None: not made yet), part of
        its identity (finetune.identity): the base model where base.use, the VQ-VAE where it reads one. A method
        that trains no LM built here names the models it is given instead."""
        from ..io import checkpoint_checksum, sha256
        from ..lm.base import base_dir
        from ..vqvae.checkpoint import model_dir

        found = {}
        if cfg.base.use:
            found["base"] = checkpoint_checksum(base_dir(cfg)) if base_dir(cfg).is_dir() else None
        if cls.uses_vqvae(cfg):
            found["vqvae"] = sha256(model_dir(cfg)) if model_dir(cfg).is_dir() else None
        return found

    @classmethod
    def prerequisites(cls, cfg) -> list[Prerequisite]:
        """Models to make before this method's fine-tune, besides the VQ-VAE and the base model."""
        return []

    def replaced_cap(self) -> int | None:
        """The most reasoning tokens a training sample replaces, where the settings bound it."""
        return None
