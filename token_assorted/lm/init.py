"""Mimetic initialisation of self-attention (Trockman & Kolter, 2023, "Mimetic Initialization of Self-Attention
Layers"): each layer starts with W_q^T W_k ≈ s (I + Z) and W_v^T W_o^T ≈ s (Z - I), Z a random matrix of unit
scale, the pattern trained attention layers have. A token then attends to others like it from the first step, the
start of the in-context lookups these tasks need (what it did on ProntoQA: docs/learning.md). Only the starting
weights change: the model is a plain transformers model, saved and loaded as any other.
"""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError


PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")


def factor_pair(product: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B), each rank x d, with A^T B the best rank-`rank` approximation of `product` (d x d)."""
    u, s, vh = torch.linalg.svd(product)
    root = s[:rank].sqrt()
    return root[:, None] * u[:, :rank].T, root[:, None] * vh[:rank]


def mimetic_init(model, scale: float) -> None:
    """Set every attention layer's q, k, v and o projections as above (in place). The layers must have separate
    q_proj, k_proj, v_proj and o_proj of one width (Llama, Qwen3, OLMo-2 and the like, without grouped keys)."""
    layers = [module for module in model.modules() if all(hasattr(module, p) for p in PROJECTIONS)]
    if not layers:
        raise ConfigError(f"model.mimetic_init: {type(model).__name__}'s attention has no separate q, k, v and o "
                          "projections (model.arch=llama has them); set model.mimetic_init=0 for this model")
    with torch.no_grad():
        for module in layers:
            q, k, v, o = (getattr(module, p) for p in PROJECTIONS)
            width, hidden = q.weight.shape
            if k.weight.shape != (width, hidden) or v.weight.shape != (width, hidden) or width > hidden:
                raise ConfigError("model.mimetic_init needs as many key and value heads as query heads")
            identity, noise = torch.eye(hidden), torch.randn(2, hidden, hidden) / math.sqrt(hidden)
            # scores are x W_q^T W_k x'^T; a layer's output adds x W_v^T W_o^T
            query, key = factor_pair(scale * (identity + noise[0]), width)
            value, out = factor_pair(scale * (noise[1] - identity), width)
            for layer, weight in ((q, query), (k, key), (v, value), (o, out.T)):
                layer.weight.copy_(weight.to(layer.weight.dtype))
