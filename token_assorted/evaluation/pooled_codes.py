"""`eval.code_choice`: whether decoding weighs the latent codes one by one or as one.

`token` (the default; DESIGN.md §5's decoding) leaves every token to compete on its own probability. Inside a
latent block the model's real choice is between going on (any of the K codes) and closing the block
(`<eoLatent>`); when it is sure to go on but unsure which code comes next, no single code outweighs
`<eoLatent>`: greedy decoding closes the block although the model would go on, and top-k sampling keeps only a
few of the codes, so it closes far more often than the model says. `pooled` first picks the code the block
would go on with (greedy: the likeliest; sampling: drawn among the top-k codes) and gives it the probability
of all codes together, so decoding goes on exactly as often as the model goes on. Outside a latent block
nothing changes (a code there is not a choice between going on and stopping, and a baseline's untrained code
rows would add up to a spurious favourite).
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
    """A transformers logits processor: inside a latent block, one code (the likeliest, or with `top_k` one
    drawn among the top_k likeliest) takes the codes' pooled score (log-sum-exp); the others are ruled out.
    It runs before generate's own top-k, which then sees the codes as one candidate."""

    def __init__(self, vocab: LatentVocab, top_k: int | None = None):
        self.vocab, self.top_k = vocab, top_k

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        inside = inside_latent_block(input_ids, self.vocab)
        if not inside.any():  # nothing to do, and no random draw: sampling elsewhere stays as it was
            return scores
        first, size = self.vocab.first_code_id, self.vocab.codebook_size
        codes = scores[:, first : first + size]
        if self.top_k:
            best, candidates = codes.topk(min(self.top_k, size), dim=-1)
            best = best.float().masked_fill(best.isneginf().all(-1, keepdim=True), 0.0)  # all codes ruled out
            chosen = candidates.gather(1, torch.multinomial(best.softmax(-1), 1))
        else:
            chosen = codes.argmax(dim=-1, keepdim=True)
        pooled = torch.full_like(codes, float("-inf")).scatter_(1, chosen, codes.logsumexp(dim=-1, keepdim=True))
        scores[:, first : first + size] = torch.where(inside[:, None], pooled, codes)
        return scores
