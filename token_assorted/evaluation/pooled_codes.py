"""`eval.code_choice`: whether greedy decoding weighs the latent codes one by one or as one.

`token` (the default; DESIGN.md §5's greedy decoding) leaves every token to compete on its own probability.
Inside a latent block the model's real choice is between going on (any of the K codes) and closing the block
(`<eoLatent>`); when it is sure to go on but unsure which code comes next, no single code outweighs
`<eoLatent>`, and greedy decoding closes the block although the model would go on. `pooled` sums the codes'
probabilities onto the likeliest code there, so greedy decoding goes on exactly when the model prefers going
on to every other token, and then writes its likeliest code. Sampling is left alone: it already goes on with
the model's probability of going on. Outside a latent block nothing changes (a code there is not a choice
between going on and stopping, and a baseline's untrained code rows would add up to a spurious favourite).
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from ..latent.vocab import LatentVocab


def inside_latent_block(input_ids: torch.Tensor, vocab: LatentVocab) -> torch.Tensor:
    """(B,) True where the ids so far end inside a latent block: a `<boLatent>` after the last `<eoLatent>`."""
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)
    last = lambda token: torch.where(input_ids == token, positions, -1).max(dim=1).values
    return last(vocab.begin_id) > last(vocab.end_id)


class PooledCodes(LogitsProcessor):
    """A transformers logits processor: inside a latent block, the codes' pooled score (log-sum-exp) goes to
    the likeliest code and the others are ruled out."""

    def __init__(self, vocab: LatentVocab):
        self.vocab = vocab

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        first, size = self.vocab.first_code_id, self.vocab.codebook_size
        codes = scores[:, first : first + size]
        pooled = torch.full_like(codes, float("-inf")).scatter_(
            1, codes.argmax(dim=-1, keepdim=True), codes.logsumexp(dim=-1, keepdim=True)
        )
        inside = inside_latent_block(input_ids, self.vocab)[:, None]
        scores[:, first : first + size] = torch.where(inside, pooled, codes)
        return scores
