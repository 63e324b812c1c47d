"""`eval.code_choice`: whether the latent codes compete for the next token one by one or as one.

`token` (the default; DESIGN.md §5's greedy and top-k decoding) leaves every token to compete on its own
probability. Inside a latent block the model's real choice is between going on (any of the K codes) and
closing the block (`<eoLatent>`), and when it is sure to go on but unsure which code comes next, no single
code outweighs `<eoLatent>`: greedy decoding closes the block although the model would go on. `pooled` sums
the codes' probabilities onto the likeliest code, so decoding goes on with the probability the model gives to
going on at all, and writes its likeliest code.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from ..errors import ConfigError
from ..latent.vocab import LatentVocab

CODE_CHOICES = ("token", "pooled")


def check_code_choice(code_choice: str) -> None:
    if code_choice not in CODE_CHOICES:
        raise ConfigError(f"unknown eval.code_choice '{code_choice}'; choose one of: {', '.join(CODE_CHOICES)}")


class PooledCodes(LogitsProcessor):
    """A transformers logits processor: the codes' pooled score (log-sum-exp) goes to the likeliest one."""

    def __init__(self, vocab: LatentVocab):
        self.first, self.size = vocab.first_code_id, vocab.codebook_size

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        codes = scores[:, self.first : self.first + self.size]
        pooled, best = codes.logsumexp(dim=-1), codes.argmax(dim=-1)
        codes.fill_(float("-inf"))  # a view: this writes into scores
        codes.scatter_(1, best[:, None], pooled[:, None])
        return scores
