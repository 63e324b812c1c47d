"""The latent vocabulary and the replacement modes: how a training sample X̃ mixes latent codes and text."""

from .embeddings import add_latent_embeddings, code_tokens, fit_linear_map
from .modes import METHOD_GROUPS, MODES, check_mode, needs_codes, replaced_chunks, stage_for_epoch
from .sequence import IGNORE, Example, build_example, mix_reasoning, sample_rng
from .vocab import BEGIN_LATENT, END_LATENT, LatentVocab, extend_tokenizer, latent_token, latent_tokens, latent_vocab

__all__ = [
    "BEGIN_LATENT", "END_LATENT", "IGNORE", "METHOD_GROUPS", "MODES", "Example", "LatentVocab",
    "add_latent_embeddings", "build_example", "check_mode", "code_tokens", "extend_tokenizer", "fit_linear_map",
    "latent_token", "latent_tokens", "latent_vocab", "mix_reasoning", "needs_codes", "replaced_chunks", "sample_rng",
    "stage_for_epoch",
]
