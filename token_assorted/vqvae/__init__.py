"""The VQ-VAE that abstracts reasoning traces into discrete latent codes (DESIGN.md §1 step 2).

    codes.load_codes(cfg, split)       # record i -> the codes of its reasoning trace (cached, checked)
    checkpoint.load_vqvae(cfg)         # .chunk_size .compression .codebook_size .codebook() .decode_text(...)
    model.codes_per_chunk(cfg.vqvae)   # the codes one chunk of L tokens becomes, without loading a model

    python -m token_assorted.train_vqvae task=prosqa   train, measure, cache every split's codes
    python -m token_assorted.vqvae task=prosqa         (re)build the code caches only
"""
