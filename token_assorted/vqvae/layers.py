"""Transformer pieces shared by g (the prompt encoder), f_enc and f_dec: pre-norm blocks whose attention
takes an explicit mask, optional cross-attention to the prompt, and a key/value cache for greedy decoding.

Self-attention uses rotary positions (RoPE): "the word three back" is then easy to attend to, and the traces
need exactly that: "Every X is a Y" is rebuilt by finding the prompt sentence that starts with X. With
absolute positions the small models here did not learn that lookup in a CPU-sized budget.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..attention import scaled_dot_product


def rotate(x: Tensor, positions: Tensor) -> Tensor:
    """Rotary position embedding of x (B, heads, T, head_dim) at integer `positions` (T,); no length limit."""
    half = x.shape[-1] // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=x.device) / half)
    angles = positions.float()[:, None] * freqs
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


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


def attend(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor) -> Tensor:
    """Softmax attention where `allowed`, through torch's fused kernel (on a CPU half the time of attention written
    out, at ProsQA's prompt lengths; in float32 under a CPU's bf16 autocast, token_assorted/attention.py). What is
    not allowed gets the dtype's lowest score rather than a boolean mask's -inf: a row with nothing allowed then
    attends evenly, never to NaN or to zeros."""
    bias = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed, torch.finfo(q.dtype).min)
    return scaled_dot_product(q, k, v, attn_mask=bias)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def _split(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        positions: Tensor | None = None,
        source: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Self-attention of `x` at `positions`, or cross-attention from `x` to `source` (no positions).
        `mask` (B, Tq, Tk) is True where attending is allowed."""
        q = self._split(self.query(x))
        if source is not None and cache is not None and cache.keys is not None:
            k, v = cache.keys, cache.values  # the prompt's keys do not change while decoding
        else:
            k, v = (self._split(t) for t in self.key_value(x if source is None else source).chunk(2, dim=-1))
            if source is None:
                k = rotate(k, positions)
            if cache is not None:
                k, v = cache.extend(k, v)
        if source is None:
            q = rotate(q, positions)
        return self.out(attend(q, k, v, mask[:, None]).transpose(1, 2).flatten(-2))


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
        positions: Tensor,
        mask: Tensor,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        caches: tuple[KVCache, KVCache] | None = None,
    ) -> Tensor:
        self_cache, cross_cache = caches if caches is not None else (None, None)
        x = x + self.self_attention(self.norm_self(x), mask, positions=positions, cache=self_cache)
        if self.cross_attention is not None:
            x = x + self.cross_attention(self.norm_cross(x), memory_mask, source=memory, cache=cross_cache)
        return x + self.mlp(self.norm_mlp(x))
