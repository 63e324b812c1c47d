"""Training batches: X̃ is drawn afresh for every sample each time it is collated, then right-padded.

A sample's draw comes from a generator seeded by (seed, epoch, record index), the epoch being the pass over the
data: a run is reproducible, every pass sees new draws, and the batch sampler can group the samples of an epoch by
their drawn length before they are collated (`sample_length`). `EpochDraws` moves the collators to the next epoch
and to the schedule's curriculum stage, and keeps the stage in the training checkpoint.
"""

from __future__ import annotations

from typing import Sequence

import lightning as L
import torch

from ..data.padding import padded
from ..errors import DataError
from ..latent import IGNORE, sample_rng


class MixingCollator:
    """Encoded records (dicts with index, prompt_ids, reasoning_ids, solution_ids) -> a padded batch of X̃, each
    sample as `method.example` draws it (methods/)."""

    def __init__(self, method, layout, codes: Sequence[Sequence[int]] | None, *, pad_id: int, max_length: int,
                 seed: int, file=None):
        self.method, self.layout, self.codes = method, layout, codes  # layout: latent.LatentLayout
        self.pad_id, self.max_length, self.seed = pad_id, max_length, seed
        self.file = file  # the records' file, for errors
        self.epoch = 0
        self.stage = 0

    def draw(self, row: dict, epoch: int, stage: int):
        """The record's sample as the draws of `epoch` make it at curriculum stage `stage`."""
        index = row["index"]
        codes = self.codes[index] if self.codes is not None else ()
        return self.method.example(row, codes, sample_rng(self.seed, epoch, index), stage, self.layout)

    def sample_length(self, row: dict, epoch: int, stage: int) -> int:
        return len(self.draw(row, epoch, stage).input_ids)

    def example(self, row: dict):
        example = self.draw(row, self.epoch, self.stage)
        index = row["index"]
        if len(example.input_ids) > self.max_length:
            raise DataError(
                f"the {self.method.name} sample has {len(example.input_ids)} tokens, more than the model's "
                f"limit of {self.max_length}", file=self.file, record=index,
            )
        return example

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        examples = [self.example(row) for row in rows]
        input_ids, mask = padded([e.input_ids for e in examples], self.pad_id)
        labels, _ = padded([e.labels for e in examples], IGNORE, width=input_ids.shape[1])
        return {"input_ids": input_ids, "attention_mask": mask.long(), "labels": labels}


class EpochDraws(L.Callback):
    """Before each training epoch: new draws for the training samples; and the curriculum stage for both splits,
    which under a step budget may move on in the middle of an epoch.

    Validation keeps the draws of epoch 0, so its loss is comparable from epoch to epoch.
    """

    def __init__(self, method, epochs: int, train, valid):
        self.method, self.epochs, self.train, self.valid = method, epochs, train, valid
        self.stage = 0
        self.epoch = 0  # the schedule's

    def on_train_start(self, trainer, pl_module) -> None:
        self.advance(trainer, self.schedule_epoch(trainer))  # a run resumed mid-epoch gets no on_train_epoch_start

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.advance(trainer, self.schedule_epoch(trainer))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        epoch = self.schedule_epoch(trainer)
        if epoch > self.epoch:
            self.advance(trainer, epoch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.method.staged:  # logged per batch, so an epoch resumed midway logs it too
            pl_module.log("stage", float(self.stage), on_step=False, on_epoch=True)

    def schedule_epoch(self, trainer) -> int:
        """The epoch the schedule is in. Under a step budget (finetune.max_steps) an epoch may never end: the
        schedule then follows the share of the steps done, as if the budget were spread over `epochs` epochs."""
        steps = max(1, int(trainer.estimated_stepping_batches))
        return max(trainer.current_epoch, trainer.global_step * self.epochs // steps)

    def advance(self, trainer, epoch: int) -> None:
        stage = self.stage  # a resumed run restored it with the optimizer state of that stage
        self.epoch = epoch
        self.stage = self.method.stage_for_epoch(epoch, self.epochs)
        self.train.epoch = trainer.current_epoch  # the pass over the data: the draws the sampler grouped
        self.train.stage = self.valid.stage = self.stage
        if self.stage != stage and self.method.reset_optimizer:
            for optimizer in trainer.optimizers:
                optimizer.state.clear()  # AdamW starts its moments afresh on the next step

    def state_dict(self) -> dict:
        return {"stage": self.stage}

    def load_state_dict(self, state_dict: dict) -> None:
        self.stage = state_dict["stage"]
