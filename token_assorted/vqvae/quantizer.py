"""The bottleneck: vector_quantize_pytorch's VQ (default), FSQ or residual VQ behind one small interface.

Every quantizer maps vectors (1, N, dim) (only real ones: padding never reaches the codebook statistics)
to quantized vectors, integer codes (1, N, levels) in [0, K) and an auxiliary loss; `lookup` turns codes
back into vectors and `codebook` lists the K code vectors.
`levels` is 1 for VQ and FSQ and the number of residual stages for RVQ (whose stages share one codebook,
so every code is one of the same K latent tokens).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from vector_quantize_pytorch import FSQ, ResidualVQ, VectorQuantize

from ..config import QUANTIZERS, check_choice
from ..errors import ConfigError


class VQ(nn.Module):
    """One codebook with EMA updates, k-means initialisation on the first batch and dead-code replacement."""

    levels = 1

    def __init__(
        self, dim: int, codebook_size: int, commitment_weight: float, ema_decay: float, dead_code_threshold: float
    ):
        super().__init__()
        self.vq = VectorQuantize(
            dim=dim,
            codebook_size=codebook_size,
            decay=ema_decay,
            kmeans_init=True,
            threshold_ema_dead_code=dead_code_threshold,
            commitment_weight=commitment_weight,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        quantized, codes, loss = self.vq(x)
        return quantized, codes.unsqueeze(-1), loss

    def lookup(self, codes: Tensor) -> Tensor:
        return self.vq.get_output_from_indices(codes.squeeze(-1))

    def codebook(self) -> Tensor:
        return self.vq.codebook


class ResidualQuantizer(nn.Module):
    """`levels` VQ stages, each quantizing what the previous ones left, sharing one codebook."""

    def __init__(
        self, dim: int, codebook_size: int, levels: int, commitment_weight: float, ema_decay: float,
        dead_code_threshold: float,
    ):
        super().__init__()
        self.levels = levels
        self.rvq = ResidualVQ(
            dim=dim,
            num_quantizers=levels,
            codebook_size=codebook_size,
            shared_codebook=True,
            decay=ema_decay,
            kmeans_init=True,
            threshold_ema_dead_code=dead_code_threshold,
            commitment_weight=commitment_weight,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        quantized, codes, losses = self.rvq(x)
        return quantized, codes, losses.sum()

    def lookup(self, codes: Tensor) -> Tensor:
        return self.rvq.get_output_from_indices(codes)

    def codebook(self) -> Tensor:
        return self.rvq.codebooks[0]


class ScalarQuantizer(nn.Module):
    """FSQ: each of len(levels) projected coordinates is rounded to one of its levels; K = prod(levels), nothing
    to learn in the codebook."""

    levels = 1

    def __init__(self, dim: int, fsq_levels: list[int]):
        super().__init__()
        self.fsq = FSQ(levels=list(fsq_levels), dim=dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        quantized, codes = self.fsq(x)
        return quantized, codes.long().unsqueeze(-1), x.new_zeros(())

    def lookup(self, codes: Tensor) -> Tensor:
        return self.fsq.indices_to_codes(codes.squeeze(-1))

    def codebook(self) -> Tensor:
        return self.fsq.indices_to_codes(torch.arange(self.fsq.codebook_size, device=self.fsq.implicit_codebook.device))


def make_quantizer(
    kind: str,
    *,
    dim: int,
    codebook_size: int,
    commitment_weight: float,
    ema_decay: float,
    dead_code_threshold: float,
    fsq_levels: list[int],
    rvq_quantizers: int,
) -> nn.Module:
    check_choice("vqvae.quantizer", kind, QUANTIZERS)
    if kind == "vq":
        return VQ(dim, codebook_size, commitment_weight, ema_decay, dead_code_threshold)
    if kind == "rvq":
        return ResidualQuantizer(dim, codebook_size, rvq_quantizers, commitment_weight, ema_decay, dead_code_threshold)
    # fsq
    if math.prod(fsq_levels) != codebook_size:
        raise ConfigError(
            f"vqvae.fsq_levels {list(fsq_levels)} give {math.prod(fsq_levels)} codes but vqvae.codebook_size is "
            f"{codebook_size}; make their product equal K"
        )
    return ScalarQuantizer(dim, fsq_levels)
