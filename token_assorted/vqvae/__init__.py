"""The VQ-VAE that abstracts reasoning traces into discrete latent codes (DESIGN.md §1 step 2).

    from token_assorted.vqvae import load_codes, load_vqvae
    codes = load_codes(cfg, split)   # record i -> the codes of its reasoning trace (cached, checked)
    vqvae = load_vqvae(cfg)          # .chunk_size .compression .codebook_size .codebook() .decode_text(...)
    codes_per_chunk(cfg.vqvae)       # the codes one chunk of L tokens becomes, without loading a model

    python -m token_assorted.train_vqvae task=prosqa   train, measure, cache every split's codes
    python -m token_assorted.vqvae task=prosqa         (re)build the code caches only
"""

from .checkpoint import build_vqvae, load_vqvae, run_dir
from .codes import build_caches, decode_text, load_codes
from .model import VQVAE, codes_per_chunk

__all__ = [
    "VQVAE", "build_caches", "build_vqvae", "codes_per_chunk", "decode_text", "load_codes", "load_vqvae", "run_dir",
]
