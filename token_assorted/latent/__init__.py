"""The latent vocabulary and how a training sample X̃ mixes latent codes and text. The
embedding rows of the latent tokens (torch) are in .embeddings."""

from .sequence import IGNORE, Example, LatentLayout, mix_reasoning, sample_rng
from .vocab import BEGIN_LATENT, END_LATENT, LatentVocab, extend_tokenizer, latent_token, latent_tokens, latent_vocab

__all__ = [
    "BEGIN_LATENT", "END_LATENT", "IGNORE", "Example", "LatentLayout", "LatentVocab", "extend_tokenizer",
    "latent_token", "latent_tokens", "latent_vocab", "mix_reasoning", "sample_rng",
]
