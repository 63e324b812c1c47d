"""Transformer pieces shared by g (the prompt encoder), f_enc and f_dec: pre-norm blocks whose attention
takes an explicit mask, optional cross-attention to the prompt, and a key/value cache for greedy decoding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """Fixed position features (Vaswani et al.): no length limit, so maze traces of thousands of tokens fit."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device) / half)
    angles = positions.float()[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class KVCache:
    """Keys and values kept between greedy decoding steps."""

    def __init__(self):
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def extend(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Self-attention: the new positions' keys join those of the earlier ones."""
        if self.keys is not None:
            keys, values = torch.cat([self.keys, keys], dim=2), torch.cat([self.values, values], dim=2)
        self.keys, self.values = keys, values
        return keys, values


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def _split(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: Tensor, source: Tensor | None = None, mask: Tensor | None = None, cache: KVCache | None = None) -> Tensor:
        """Attend from `x` to `source` (cross-attention) or to `x` itself. `mask` (B, Tq, Tk) is True where attending is allowed."""
        q = self._split(self.query(x))
        if source is not None and cache is not None and cache.keys is not None:
            k, v = cache.keys, cache.values  # the prompt's keys do not change while decoding
        else:
            k, v = (self._split(t) for t in self.key_value(x if source is None else source).chunk(2, dim=-1))
            if cache is not None:
                k, v = cache.extend(k, v)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask[:, None])
        return self.out(y.transpose(1, 2).flatten(-2))


class Block(nn.Module):
    """Self-attention, then (in f_enc and f_dec) cross-attention to the prompt's token states, then an MLP."""

    def __init__(self, dim: int, heads: int, cross_attention: bool):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attention = Attention(dim, heads)
        self.norm_cross = nn.LayerNorm(dim) if cross_attention else None
        self.cross_attention = Attention(dim, heads) if cross_attention else None
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        caches: tuple[KVCache, KVCache] | None = None,
    ) -> Tensor:
        self_cache, cross_cache = caches if caches is not None else (None, None)
        x = x + self.self_attention(self.norm_self(x), mask=mask, cache=self_cache)
        if self.cross_attention is not None:
            x = x + self.cross_attention(self.norm_cross(x), memory, mask=memory_mask, cache=cross_cache)
        return x + self.mlp(self.norm_mlp(x))
