"""The LightningModule that fine-tunes a transformers causal LM with next-token loss on the labelled positions."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from ..config import SCHEDULES, check_choice
from ..latent.example import IGNORE
from ..schedule import adamw_with_schedule


def labelled_tokens(labels: torch.Tensor) -> int:
    """Positions the loss counts: a label is predicted from the token before it, so the first column never is."""
    return int((labels[:, 1:] != IGNORE).sum())


class CausalLMModule(L.LightningModule):
    def __init__(self, model, optim):
        super().__init__()
        check_choice("finetune.schedule", optim.schedule, SCHEDULES)
        self.model = model
        self.optim = optim
        self.tokens_seen = 0  # input tokens (padding excluded) of all training batches on this process
        self.validated_at_step: int | None = None  # the global step of the last validation (sanity check aside)

    def loss(self, batch: dict) -> torch.Tensor:
        """Mean next-token loss over the batch's labelled positions (methods that feed vectors override this)."""
        return self.model(**batch).loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.tokens_seen += int(batch["attention_mask"].sum())
        labelled = labelled_tokens(batch["labels"])
        self.log("train_loss", loss, prog_bar=True, batch_size=labelled)
        self.log("lr", self.lr_schedulers().get_last_lr()[0])
        if self.trainer.world_size > 1:
            # DDP averages the processes' gradients; weighting each by its share of the labelled tokens makes that
            # the mean over every token of the global batch, the loss one process would take
            mean = self.trainer.strategy.reduce(torch.tensor(float(labelled), device=loss.device), reduce_op="mean")
            loss = loss * (labelled / mean)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss = self.loss(batch)
        # weighted by labelled tokens, so the epoch's val_loss is the mean over tokens, not over batches
        self.log("val_loss", loss, prog_bar=True, sync_dist=True, batch_size=labelled_tokens(batch["labels"]))

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.validated_at_step = self.trainer.global_step

    def configure_optimizers(self):
        return adamw_with_schedule(self.parameters(), self.optim, int(self.trainer.estimated_stepping_batches))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["tokens_seen"] = self.tokens_seen

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.tokens_seen = checkpoint.get("tokens_seen", 0)


class WeightedTokensModule(CausalLMModule):
    """Next-token loss in which each label among `weighted_ids` counts `weight` times while training; validation
    keeps the plain mean, so val_loss compares across methods and settings."""

    def __init__(self, model, optim, weighted_ids: range, weight: float):
        super().__init__(model, optim)
        self.weighted_ids, self.weight = weighted_ids, weight

    def loss(self, batch: dict) -> torch.Tensor:
        if not self.training:
            return super().loss(batch)
        inputs = {key: value for key, value in batch.items() if key != "labels"}
        logits = self.model(**inputs).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        losses = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE, reduction="none")
        weighted = (labels >= self.weighted_ids.start) & (labels < self.weighted_ids.stop)
        weights = torch.where(weighted, self.weight, 1.0).flatten()
        return (losses * weights).sum() / max(1, labelled_tokens(batch["labels"]))
