"""`eval.force_latents=k`: make generation open with a latent block of k codes, to trade latency for accuracy.

With k > 0 every generation starts `<boLatent>`, then k codes the model picks itself (greedy or top-k, among
the code tokens only), then `<eoLatent>`, and goes on freely. With k = 0 no latent token may appear at all:
the model answers in text. None (the default) leaves generation free.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from ..errors import ConfigError
from ..latent.vocab import LatentVocab


class LatentBlockOpening(LogitsProcessor):
    """A transformers logits processor; `prompt_width` is the (left-padded) prompt length of the batch."""

    def __init__(self, vocab: LatentVocab, codes: int, prompt_width: int):
        if codes < 0:
            raise ConfigError(f"eval.force_latents must be 0 or more codes, not {codes}")
        self.codes, self.prompt_width = codes, prompt_width
        self.code_ids = list(vocab.code_id_range)
        self.begin_id, self.end_id, self.latent_ids = vocab.begin_id, vocab.end_id, vocab.ids

    def allowed(self, step: int) -> list[int] | None:
        """The only tokens allowed at generation step `step`, or None for any."""
        if step == 0:
            return [self.begin_id]
        if step <= self.codes:
            return self.code_ids
        if step == self.codes + 1:
            return [self.end_id]
        return None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_width
        if self.codes == 0:
            scores[:, self.latent_ids] = float("-inf")
            return scores
        allowed = self.allowed(step)
        if allowed is None:
            return scores
        kept = scores[:, allowed].clone()
        scores.fill_(float("-inf"))
        scores[:, allowed] = kept
        return scores
