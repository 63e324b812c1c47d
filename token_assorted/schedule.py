"""The learning-rate schedule that the VQ-VAE and the LM both train with (vqvae.train and finetune in the config)."""

from __future__ import annotations

import math


def lr_factor(step: int, *, total: int, warmup_ratio: float, schedule: str, floor: float) -> float:
    """The rate at `step` as a share of the peak: linear warmup over the first warmup_ratio of the `total` steps,
    then cosine or linear decay to `floor` at `total`."""
    warmup = max(1, round(warmup_ratio * total))
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    decay = 0.5 * (1.0 + math.cos(math.pi * progress)) if schedule == "cosine" else 1.0 - progress
    return floor + (1.0 - floor) * decay
