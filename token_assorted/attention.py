"""Scaled dot-product attention computed in float32 on a CPU under bf16 autocast, for the LM and the VQ-VAE alike.

torch's fused CPU attention kernel runs its backward pass more slowly in bf16 than in float32, which cost bf16
training most of what its matrix products gain (docs/measurements.md, "Hot paths"). Attention alone in float32
there is faster and at least as exact. On a GPU, or without autocast (evaluation on a CPU), attention runs as it
comes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# its name in transformers' AttentionInterface; the LMs trained here use it (lm.model.with_lifted_attention). Never
# saved: config.json holds no attention choice, so stock transformers loads the model with its own default
LM_ATTENTION = "sdpa-float32-on-cpu"


def in_float32(t: Tensor) -> bool:
    """Whether attention over t should be lifted to float32: t is on a CPU and autocast is on there."""
    return t.device.type == "cpu" and torch.is_autocast_enabled("cpu")


def lifted(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None) -> tuple:
    """The inputs in float32 (a boolean mask stays boolean)."""
    if mask is not None and mask.is_floating_point():
        mask = mask.float()
    return query.float(), key.float(), value.float(), mask


def scaled_dot_product(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None) -> Tensor:
    """F.scaled_dot_product_attention, in float32 where in_float32 says, returned in q's dtype."""
    if not in_float32(q):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    with torch.autocast("cpu", enabled=False):
        return F.scaled_dot_product_attention(*lifted(q, k, v, attn_mask)).to(q.dtype)


def lm_attention(module, query: Tensor, key: Tensor, value: Tensor, attention_mask: Tensor | None, **kwargs):
    """transformers' sdpa attention, in float32 where in_float32 says."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if not in_float32(query):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    with torch.autocast("cpu", enabled=False):
        output, weights = sdpa_attention_forward(module, *lifted(query, key, value, attention_mask), **kwargs)
    return output.to(query.dtype), weights


def lm_attention_name() -> str:
    """LM_ATTENTION, registered with transformers' AttentionInterface first (registering twice is harmless)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(LM_ATTENTION, lm_attention)
    # without a mask function of its own transformers builds no mask for an attention it does not know (it takes it
    # for a serving backend's): generation from left-padded prompts then attended to the padding
    ALL_MASK_ATTENTION_FUNCTIONS.register(LM_ATTENTION, sdpa_mask)
    return LM_ATTENTION
