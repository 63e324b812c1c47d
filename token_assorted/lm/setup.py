"""What a fine-tune trains: the model, its tokenizer, the encoded splits and their collators (`Setup`).

`lm_setup` builds it for every method that trains the whole LM; the method (token_assorted/methods/) adds what it
needs to the tokenizer and the model (`prepare`), and says how samples are collated, which module trains them and
which files it saves beside the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from ..data import get_tokenizer, load_dataset
from ..data.splits import split_file
from ..errors import StaleInputError
from ..latent import LatentLayout, LatentVocab, extend_tokenizer
from ..latent.embeddings import add_latent_embeddings, code_tokens
from .adapters import prepare_for_training
from .base import starting_config
from .model import build_model, max_positions, set_generation_ids

SPLITS = ("train", "valid")


@dataclass
class LatentCodes:
    """The latent shape (L, r, K) and, where a trained VQ-VAE is used, its codebook and each split's codes."""

    chunk_size: int  # L
    compression: int  # r
    per_chunk: int  # codes per chunk: L/r (times the residual stages of an RVQ)
    codebook_size: int  # K
    codebook: torch.Tensor | None = None  # (K, dim)
    splits: dict[str, list[list[int]]] | None = None  # split -> codes per record, aligned with its records


def load_latent_codes(cfg) -> LatentCodes:
    """The trained VQ-VAE's codes; the only place fine-tuning touches the VQ-VAE."""
    from ..vqvae.checkpoint import load_vqvae
    from ..vqvae.codes import load_codes

    vqvae = load_vqvae(cfg)
    return LatentCodes(
        chunk_size=vqvae.chunk_size,
        compression=vqvae.compression,
        per_chunk=vqvae.codes_per_chunk,
        codebook_size=vqvae.codebook_size,
        codebook=vqvae.codebook().detach().cpu(),
        splits={split: load_codes(cfg, split) for split in SPLITS},
    )


def latent_shape(v) -> LatentCodes:
    """Only the latent shape, from the vqvae config `v` (cfg.vqvae): for methods that never show a latent code."""
    from ..vqvae.model import codes_per_chunk

    return LatentCodes(v.chunk_size, v.compression, codes_per_chunk(v), v.codebook_size)


def check_aligned(latents: LatentCodes, data: dict[str, list[dict]]) -> None:
    for split, rows in data.items():
        if len(latents.splits[split]) != len(rows):
            raise StaleInputError(
                f"the VQ-VAE codes for {split} cover {len(latents.splits[split])} records, the split has {len(rows)}: "
                "retrain the VQ-VAE on this data (python -m token_assorted.train_vqvae)"
            )


def init_latent_embeddings(model, vocab: LatentVocab, init: str, latents: LatentCodes, train: list[dict]) -> None:
    covered = None
    if init == "codebook":
        reasoning = [row["reasoning_ids"] for row in train]
        covered = code_tokens(
            latents.splits["train"], reasoning, latents.chunk_size, latents.compression, latents.per_chunk,
            latents.codebook_size,
        )
    add_latent_embeddings(model, vocab, init, latents.codebook, covered)


@dataclass
class Setup:
    """What one method trains: the module (holding the model), its tokenizer, data, collators and extra outputs."""

    module: object  # a LightningModule with .model
    tokenizer: object
    data: dict[str, list[dict]]
    collators: dict[str, object]
    latents: LatentCodes
    vocab: LatentVocab | None  # None where the model's tokenizer has no latent tokens (a pretrained SoftCoT main LM)
    save: Callable[[Path, int], dict]  # (output dir, final stage) -> writes the method's extra files, returns meta fields


@dataclass
class LMRun:
    """What a method's hooks see while the fine-tune of a whole LM is set up."""

    cfg: object
    model: object
    tokenizer: object
    data: dict[str, list[dict]]
    latents: LatentCodes
    vocab: LatentVocab
    max_length: int

    @property
    def layout(self) -> LatentLayout:
        return LatentLayout(self.vocab, self.latents.chunk_size, self.latents.per_chunk)

    def file(self, split: str) -> Path:
        return split_file(self.cfg, split)


def lm_setup(cfg, method, progress: bool) -> Setup:
    """A method that trains the whole LM: the Token Assorted methods, the baselines, pause, icot and coconut."""
    start = starting_config(cfg)  # the base model, where base.use
    tokenizer = get_tokenizer(start, progress=progress)
    model = build_model(start.model, tokenizer)
    latents = load_latent_codes(cfg) if method.uses_vqvae(cfg) else latent_shape(cfg.vqvae)
    vocab = extend_tokenizer(tokenizer, latents.codebook_size)
    if cfg.base.use:  # the base model never saw its latent rows: they start here, as they would on a new model
        vocab = replace(vocab, new_ids=tuple(vocab.ids))
    limit = max_positions(model.config, cfg.model)
    data = {split: load_dataset(cfg, split, tokenizer, max_length=limit).to_list() for split in SPLITS}
    if latents.splits is not None:
        check_aligned(latents, data)
    init_latent_embeddings(model, vocab, cfg.model.latent_init, latents, data["train"])
    run = LMRun(cfg, model, tokenizer, data, latents, vocab, limit)
    method.prepare(run)
    set_generation_ids(model, tokenizer, cfg.task.max_new_tokens)
    model = prepare_for_training(model, cfg.model)
    collators = {split: method.collator(run, split) for split in SPLITS}
    return Setup(method.module(model, cfg.finetune), tokenizer, data, collators, latents, vocab, method.save)
