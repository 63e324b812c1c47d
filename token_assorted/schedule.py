"""The optimizer and learning-rate schedule that the VQ-VAE and the LM both train with (an OptimConfig:
vqvae.train, base.train and finetune in the config)."""

from __future__ import annotations

import math
from functools import partial


def lr_factor(step: int, *, total: int, warmup_ratio: float, schedule: str, floor: float) -> float:
    """The rate at `step` as a share of the peak: linear warmup over the first warmup_ratio of the `total` steps,
    then cosine or linear decay to `floor` at `total`."""
    warmup = max(1, round(warmup_ratio * total))
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    decay = 0.5 * (1.0 + math.cos(math.pi * progress)) if schedule == "cosine" else 1.0 - progress
    return floor + (1.0 - floor) * decay


def adamw_with_schedule(parameters, optim, total: int) -> dict:
    """AdamW over the trainable `parameters` (weight decay on matrices alone) and the schedule of `optim` over
    `total` steps, stepped every optimizer step: what a LightningModule's configure_optimizers returns."""
    import torch

    trainable = [p for p in parameters if p.requires_grad]
    groups = [{"params": [p for p in trainable if p.dim() >= 2], "weight_decay": optim.weight_decay},
              {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=optim.lr)
    factor = partial(lr_factor, total=max(1, total), warmup_ratio=optim.warmup_ratio, schedule=optim.schedule,
                     floor=optim.final_lr_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
