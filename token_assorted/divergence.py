"""Stop training at the first step whose loss is not a finite number.

A diverged run otherwise trains on to its last step, saves weights full of NaN and hands them to the
evaluation, which reports 0 % with every answer cut at the length limit: the cause is far from the symptom.
"""

from __future__ import annotations

import lightning as L
import torch

from .errors import DivergedError


class StopOnDivergence(L.Callback):
    def __init__(self, settings: str):
        self.settings = settings  # the settings to change, named in the error: "finetune.lr=0.002"

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = (outputs["loss"] if isinstance(outputs, dict) else outputs).detach()
        diverged = not bool(torch.isfinite(loss).all())
        # all processes stop at the same step, or the others would wait forever in the next gradient all-reduce
        if trainer.strategy.reduce_boolean_decision(diverged, all=False):
            raise DivergedError(
                f"training diverged: the loss stopped being a finite number at step {trainer.global_step} (epoch "
                f"{trainer.current_epoch}); no model was saved. Lower the learning rate ({self.settings}, "
                f"trainer.precision={trainer.precision}) and run again: a run with other settings starts afresh"
            )
