"""The LightningModule that trains the VQ-VAE: reconstruction cross-entropy plus the quantizer's commitment loss."""

from __future__ import annotations

import lightning as L
import torch

from ..config import SCHEDULES, check_choice
from ..schedule import adamw_with_schedule
from .chunks import IGNORE, Batch
from .model import VQVAE
from .quantizer import make_quantizer


class VQVAEModule(L.LightningModule):
    def __init__(self, model: VQVAE, optim, continuous_steps: int = 0):
        """`optim`: how it trains (vqvae.train, an OptimConfig)."""
        super().__init__()
        check_choice("vqvae.train.schedule", optim.schedule, SCHEDULES)
        self.model, self.optim = model, optim
        self.continuous_steps = continuous_steps  # capped at a quarter of training in configure_optimizers
        self.val_code_counts = torch.zeros(model.codebook_size, dtype=torch.long)

    def setup(self, stage: str) -> None:
        # vector_quantize_pytorch decides when a quantizer is built whether k-means and the EMA codebook updates
        # are synchronised across processes; the model was built before Lightning started the process group, so
        # a multi-process run builds the (still untrained) quantizer again, now in sync
        if torch.distributed.is_available() and torch.distributed.is_initialized() and self.trainer.world_size > 1:
            c = self.model.config
            self.model.quantizer = make_quantizer(
                c["quantizer"], dim=c["dim"], codebook_size=c["codebook_size"],
                commitment_weight=c["commitment_weight"], ema_decay=c["ema_decay"],
                dead_code_threshold=c["dead_code_threshold"], fsq_levels=c["fsq_levels"],
                rvq_quantizers=c["rvq_quantizers"],
            )

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        # Warm up without the bottleneck, so that k-means initialises the codebook on latents that already carry
        # information; from a random encoder all latents look alike and the codebook collapses to a few codes.
        out = self.model(batch, quantize=self.global_step >= self.continuous_steps)
        self.log("train/loss", out.loss, prog_bar=True, batch_size=len(batch))
        self.log_dict({"train/recon": out.recon_loss, "train/commit": out.commit_loss}, batch_size=len(batch))
        return out.loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        out = self.model(batch, quantize=self.global_step >= self.continuous_steps)
        scored = batch.targets != IGNORE
        correct = (out.log_probs.argmax(dim=-1) == batch.targets) & scored
        self.log_dict({"val/loss": out.loss, "val/recon": out.recon_loss}, batch_size=len(batch))
        # token accuracy with the true earlier tokens given (teacher forcing); metrics.json has the free-running one
        self.log("val/token_acc", correct.sum() / scored.sum(), prog_bar=True, batch_size=int(scored.sum()))
        codes = out.codes[out.codes >= 0]
        self.val_code_counts += torch.bincount(codes.flatten().cpu(), minlength=self.model.codebook_size)

    def on_validation_epoch_end(self) -> None:
        self.log("val/usage", (self.val_code_counts > 0).float().mean(), prog_bar=True)
        self.val_code_counts.zero_()

    def configure_optimizers(self):
        total = int(self.trainer.estimated_stepping_batches)
        self.continuous_steps = min(self.continuous_steps, max(1, total) // 4)
        return adamw_with_schedule(self.model.parameters(), self.optim, total)
