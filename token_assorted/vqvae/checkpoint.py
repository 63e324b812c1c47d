"""Where a trained VQ-VAE lives and the checks that keep it from being used with other inputs.

    <out_dir>/vqvae/<task>/model/         config.json + model.safetensors (VQVAE.save_pretrained)
    <out_dir>/vqvae/<task>/meta.json      its identity (settings, tokenizer and train-data checksums), config, seed
    <out_dir>/vqvae/<task>/metrics.json   figures on the valid split
    <out_dir>/vqvae/<task>/codes/         code sequences per split (codes.py)
    <out_dir>/vqvae/<task>/checkpoints/   Lightning checkpoints;  logs/  CSV logs
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import OmegaConf

from ..config import VQVAE_SETTINGS, settings
from ..data.splits import split_file
from ..data.tokenizer import tokenizer_checksum
from ..errors import StaleInputError, remedy
from ..identity import IDENTITY, changes, made_from
from ..layout import Layout
from ..io import META, read_meta, sha256

if TYPE_CHECKING:
    from .model import VQVAE


def run_dir(cfg) -> Path:
    return Layout.of(cfg).vqvae()


def model_dir(cfg) -> Path:
    return run_dir(cfg) / "model"


def trained_precision(cfg) -> str:
    """The precision the VQ-VAE trained under (its meta.json), not this command's: the codes it would have made."""
    return read_meta(run_dir(cfg)).get("precision", cfg.trainer.precision)


def vqvae_config(v) -> dict:
    """The settings (`v`: cfg.vqvae) that make the VQ-VAE what it is (not vqvae.dir, where it lives)."""
    return {key: value for key, value in OmegaConf.to_container(v, resolve=True).items() if key != "dir"}


def build_vqvae(v, tokenizer) -> VQVAE:
    """A new VQ-VAE for `tokenizer`'s vocabulary, as the vqvae config `v` (cfg.vqvae) says."""
    from .model import VQVAE  # torch: loaded where a model is, not by the paths and checks here

    return VQVAE(
        vocab_size=len(tokenizer), pad_id=tokenizer.pad_token_id, eos_id=tokenizer.eos_token_id,
        chunk_size=v.chunk_size, compression=v.compression, codebook_size=v.codebook_size, quantizer=v.quantizer,
        fsq_levels=list(v.fsq_levels), rvq_quantizers=v.rvq_quantizers, dim=v.dim, heads=v.heads,
        prompt_layers=v.prompt_layers, encoder_layers=v.encoder_layers, decoder_layers=v.decoder_layers,
        encoder_context=v.encoder_context, commitment_weight=v.commitment_weight, ema_decay=v.ema_decay,
        dead_code_threshold=v.dead_code_threshold,
    )


METRICS = "metrics.json"


def current_inputs(cfg, tokenizer, vocab_size: int | None = None) -> dict[str, str]:
    """The checksums of the inputs: `vocab_size`, those of the tokenizer's first ids alone (tokenizer_checksum)."""
    return {"tokenizer": tokenizer_checksum(tokenizer, vocab_size), "train": sha256(split_file(cfg, "train"))}


def token_accuracy(cfg) -> float | None:
    """The share of valid trace tokens the trained VQ-VAE rebuilds from its codes (metrics.json); None before
    training."""
    path = run_dir(cfg) / METRICS
    return json.loads(path.read_text(encoding="utf-8")).get("recon_token_acc") if path.is_file() else None


RETRAIN = "run `{command}` to retrain it"


def identity(cfg, tokenizer, vocab_size: int | None = None) -> dict:
    """What the VQ-VAE is made from (identity.py): its settings (not vqvae.dir, where it lives) and the trainer's that
    shape its weights, and the checksums of the tokenizer (`vocab_size`: of its first ids alone) and the train split."""
    return made_from({**settings(cfg, VQVAE_SETTINGS), "vqvae": vqvae_config(cfg.vqvae)},
                     current_inputs(cfg, tokenizer, vocab_size))


def checked_meta(cfg, tokenizer) -> dict:
    """The checkpoint's meta.json, after checking the identity it records: made with this tokenizer, from this
    train split and under these vqvae settings. How it trained (seed, precision) may differ from this command's: a
    fine-tune's own identity holds the VQ-VAE's checksum."""
    directory = run_dir(cfg)
    if not (directory / META).exists() or not model_dir(cfg).exists():
        raise StaleInputError(f"no trained VQ-VAE in {directory}: run `{{command}}` first", remedy("train_vqvae", cfg))
    meta = read_meta(directory)
    made = meta.get(IDENTITY)
    if made is None:
        raise StaleInputError(f"the VQ-VAE in {directory} records no identity (an earlier version made it); {RETRAIN}",
                              remedy("train_vqvae", cfg))
    # a tokenizer that extends the VQ-VAE's (a base model's, with the latent tokens added) maps text as it does
    trained_vocab = json.loads((model_dir(cfg) / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    changed = changes(made, identity(cfg, tokenizer, trained_vocab), within=("settings.vqvae", "inputs"))
    if changed:
        raise StaleInputError(f"the VQ-VAE in {directory} was made with {'; '.join(changed)}; {RETRAIN}",
                              remedy("train_vqvae", cfg))
    return meta


def load_vqvae(cfg, tokenizer=None) -> VQVAE:
    """The trained VQ-VAE for cfg's task, in eval mode; StaleInputError if made with other inputs or settings."""
    from ..data import get_tokenizer
    from .model import VQVAE

    checked_meta(cfg, tokenizer if tokenizer is not None else get_tokenizer(cfg, progress=False))
    model = VQVAE.from_pretrained(model_dir(cfg))
    model.checksum = sha256(model_dir(cfg))  # identifies the checkpoint for the stages that use its codes
    return model
