"""Code sequences of a split's reasoning traces, cached beside the checkpoint; and codes back to text.

    python -m token_assorted.vqvae task=prosqa        (re)build the train/valid/test caches (__main__.py)

A cache file <out_dir>/vqvae/<task>/codes/<split>.json records the checksums of the split's records and of
the model it was made with; it is rebuilt when either changes, and reused otherwise.
"""

from __future__ import annotations

import json

from ..data import get_tokenizer, load_dataset
from ..data.splits import split_file
from ..io import sha256, write_json
from ..precision import device_for
from ..tasks.base import SPLIT_NAMES
from .checkpoint import checked_meta, load_vqvae, model_dir, run_dir, trained_precision
from .metrics import encode_rows
from .model import VQVAE


def cache_file(cfg, split: str):
    return run_dir(cfg) / "codes" / f"{split}.json"


def split_rows(cfg, split: str, tokenizer) -> list[tuple[list[int], list[int]]]:
    """(prompt_ids, reasoning_ids) per record, in the split's order."""
    dataset = load_dataset(cfg, split, tokenizer)
    return list(zip(dataset["prompt_ids"], dataset["reasoning_ids"]))


def cache_inputs(cfg, split: str) -> dict[str, str]:
    return {"records": sha256(split_file(cfg, split)), "model": sha256(model_dir(cfg))}


def load_codes(cfg, split: str, progress: bool = False) -> list[list[int]]:
    """Record i -> the codes of its reasoning trace: ceil(len(reasoning_ids)/L) chunks of `codes_per_chunk` codes
    (L/r for VQ and FSQ), flattened. Computed on first use and whenever the split or the checkpoint changed.
    Raises StaleInputError if the checkpoint was made with another tokenizer, training data or vqvae config."""
    tokenizer = get_tokenizer(cfg, progress=False)
    checked_meta(cfg, tokenizer)
    path, inputs = cache_file(cfg, split), cache_inputs(cfg, split)
    if path.exists():
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("inputs") == inputs:
            return cached["codes"]
    model = load_vqvae(cfg, tokenizer)
    codes = encode_split(cfg, model, split, tokenizer, progress=progress)
    write_json(path, {"inputs": inputs, "codes_per_chunk": model.codes_per_chunk, "codes": codes}, indent=None)
    return codes


def encode_split(cfg, model: VQVAE, split: str, tokenizer, progress: bool = False) -> list[list[int]]:
    return encode_rows(
        model.to(device_for(cfg.trainer.accelerator)), split_rows(cfg, split, tokenizer),
        batch_size=cfg.vqvae.train.batch_size, precision=trained_precision(cfg), progress=progress,
        desc=f"encoding {split}",
    )


def build_caches(cfg, splits=SPLIT_NAMES, progress: bool = True) -> dict[str, int]:
    """Bring every split's cache up to date; returns the number of records per split."""
    return {split: len(load_codes(cfg, split, progress=progress)) for split in splits}


def decode_text(cfg, prompt_ids: list[int], codes: list[int]) -> str:
    """The reasoning text `codes` stand for, given the prompt's token ids, with cfg's tokenizer and checkpoint."""
    tokenizer = get_tokenizer(cfg, progress=False)
    return load_vqvae(cfg, tokenizer).decode_text(tokenizer, prompt_ids, codes)
