"""The baselines written in text alone: sol-only (no reasoning) and cot (the whole trace). No VQ-VAE needed."""

from __future__ import annotations

from ..latent.example import with_prompt_masked
from .base import Method


class SolOnly(Method):
    """Prompt then solution, no reasoning at all."""

    name = "sol-only"
    trace_share = 0.0

    def example(self, row, codes, rng, stage, layout):
        return with_prompt_masked(row["prompt_ids"], row["solution_ids"])


class CoT(Method):
    """Plain chain of thought (m = 0): no latent block."""

    name = "cot"
    trace_share = 1.0
