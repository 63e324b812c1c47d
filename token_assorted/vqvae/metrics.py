"""How well the codes stand for the traces: reconstruction, codebook use, and whether the codes carry anything.

Reconstruction is measured the way the codes are used: f_dec writes each trace greedily from its codes and
the prompt alone (no true tokens given), and its output is compared with the trace position by position.
"""

from __future__ import annotations

import math
from collections import Counter

import torch
from tqdm.auto import tqdm

from ..precision import autocast
from .chunks import IGNORE, sorted_batches
from .model import VQVAE

INFORMATIVE_DROP = 0.05  # a smaller drop in token accuracy under random codes means the codes say (almost) nothing


def codebook_stats(codes: list[list[int]], codebook_size: int) -> dict[str, float]:
    counts = Counter(code for row in codes for code in row)
    total = sum(counts.values())
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    return {
        "codebook_usage": len(counts) / codebook_size,
        "codebook_perplexity": math.exp(entropy),
        "dead_codes": codebook_size - len(counts),
    }


def _batches(model: VQVAE, rows, batch_size: int, precision: str, progress: bool, desc: str):
    """(row indices, Batch on the model's device), under the trainer's autocast, with a progress bar."""
    device = model.embed.weight.device
    batches = sorted_batches(
        rows, batch_size=batch_size, chunk_size=model.chunk_size, pad_id=model.pad_id, eos_id=model.eos_id
    )
    bar = tqdm(total=len(rows), desc=desc, disable=not progress, unit="trace")
    with autocast(precision, device), bar:
        for indices, batch in batches:
            yield indices, batch.to(device)
            bar.update(len(indices))


@torch.no_grad()
def encode_rows(
    model: VQVAE, rows, *, batch_size: int, precision: str = "32", progress: bool = False, desc: str = "encoding"
) -> list[list[int]]:
    """Every row's code sequence, in the order of `rows`."""
    codes: list[list[int] | None] = [None] * len(rows)
    for indices, batch in _batches(model, rows, batch_size, precision, progress, desc):
        for i, row in zip(indices, model.encode_codes(batch)):
            codes[i] = row
    return codes


@torch.no_grad()
def reconstruction(
    model: VQVAE, rows, codes: list[list[int]], *, batch_size: int, precision: str = "32", progress: bool = False,
    desc: str = "decoding",
) -> dict[str, float]:
    """Greedy decoding of each trace from `codes`: share of tokens right, and share of chunks right throughout."""
    right_tokens = tokens = right_chunks = chunks = 0
    for indices, batch in _batches(model, rows, batch_size, precision, progress, desc):
        width = batch.chunk_mask.shape[1] * model.codes_per_chunk
        padded = torch.tensor([codes[i] + [0] * (width - len(codes[i])) for i in indices], device=batch.targets.device)
        written = model.generate(batch.prompt_ids, batch.prompt_mask, model.codes_to_vectors(padded))
        scored = batch.targets != IGNORE
        right = (written == batch.targets) & scored
        right_tokens += int(right.sum())
        tokens += int(scored.sum())
        chunk_right = (right == scored).unflatten(1, (-1, model.chunk_size)).all(dim=-1)
        right_chunks += int((chunk_right & batch.chunk_mask).sum())
        chunks += int(batch.chunk_mask.sum())
    return {"token_acc": right_tokens / tokens, "chunk_exact": right_chunks / chunks}


@torch.no_grad()
def teacher_forced_accuracy(model: VQVAE, rows, *, batch_size: int, precision: str = "32") -> float:
    """Token accuracy when f_dec is given the true earlier tokens (what training optimises)."""
    right = total = 0
    for _, batch in _batches(model, rows, batch_size, precision, progress=False, desc=""):
        scored = batch.targets != IGNORE
        right += int(((model(batch).log_probs.argmax(dim=-1) == batch.targets) & scored).sum())
        total += int(scored.sum())
    return right / total


def random_codes(codes: list[list[int]], codebook_size: int, seed: int) -> list[list[int]]:
    """Codes of the same lengths, drawn uniformly: what f_dec gets when the codes carry no information."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(codebook_size, (len(row),), generator=generator).tolist() for row in codes]


def evaluate(
    model: VQVAE, rows, *, batch_size: int, precision: str = "32", seed: int = 0, progress: bool = False
) -> dict:
    """The metrics.json figures for one split."""
    model.eval()
    settings = dict(batch_size=batch_size, precision=precision)
    codes = encode_rows(model, rows, progress=progress, **settings)
    real = reconstruction(model, rows, codes, progress=progress, desc="decoding", **settings)
    noise = random_codes(codes, model.codebook_size, seed)
    chance = reconstruction(model, rows, noise, progress=progress, desc="decoding random codes", **settings)
    return {
        "recon_token_acc": real["token_acc"],
        "recon_chunk_exact": real["chunk_exact"],
        "recon_token_acc_teacher_forced": teacher_forced_accuracy(model, rows, **settings),
        **codebook_stats(codes, model.codebook_size),
        "code_informativeness": real["token_acc"] - chance["token_acc"],
        "random_code_token_acc": chance["token_acc"],
        "records": len(rows),
        "codes_per_trace": sum(map(len, codes)) / len(codes),
    }


def informativeness_warning(metrics: dict) -> str | None:
    drop = metrics["code_informativeness"]
    if drop >= INFORMATIVE_DROP:
        return None
    return (
        f"warning: replacing the codes by random ones lowers token accuracy by only {drop:.3f}: the codes carry "
        "(almost) nothing and the decoder is reading the prompt alone"
    )
