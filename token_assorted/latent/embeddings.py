"""Growing a causal LM's embeddings for the latent tokens and choosing where the new rows start.

    mean      every new row (codes and delimiters) is the mean of the existing token rows.
    codebook  delimiters as for mean; code k's row is A·[e_k, 1], with e_k the VQ-VAE codebook vector and
              A a linear map (with bias) fitted by least squares from codebook space to embedding space.
              Its targets: for every code that occurs in the training codes, the mean embedding of the
              text tokens it stood for (code i of chunk j covers trace tokens j·L + i·r … j·L + (i+1)·r - 1;
              with an RVQ, every stage's code of a vector covers that vector's r tokens).
              Codes that never occur still get a row, through the map. Where there are fewer occurring
              codes than codebook dimensions, the minimum-norm solution is taken, which reproduces
              every target exactly (for codebook vectors in general position).

Input and output embeddings get the same treatment, each from its own existing rows (tied ones once).
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..config import LATENT_INITS, check_choice
from ..errors import ConfigError
from .chunks import chunk_count
from .special import add_mean_rows, embedding_weights
from .vocab import LatentVocab


def code_tokens(
    codes: Sequence[Sequence[int]],
    reasoning: Sequence[Sequence[int]],
    chunk_size: int,
    compression: int,
    per_chunk: int,
    codebook_size: int,
) -> list[list[int]]:
    """For each code, the text token ids it covered, over all records (codes and traces aligned by record).

    A chunk has L/r vectors of r tokens each; per_chunk / (L/r) codes stand for each vector (1, or the
    residual stages of an RVQ), consecutive in the chunk's codes.
    """
    stages = per_chunk // (chunk_size // compression)
    covered: list[list[int]] = [[] for _ in range(codebook_size)]
    for record_codes, trace in zip(codes, reasoning, strict=True):
        for position, code in enumerate(record_codes[: chunk_count(len(trace), chunk_size) * per_chunk]):
            chunk, slot = divmod(position, per_chunk)
            start = chunk * chunk_size + (slot // stages) * compression
            covered[code].extend(trace[start : start + compression])
    return covered


def fit_linear_map(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """A of shape (d + 1, h) minimising ||[inputs, 1] A - targets||² (minimum norm where underdetermined)."""
    design = torch.cat([inputs, torch.ones(len(inputs), 1, dtype=inputs.dtype)], dim=1).double()
    return torch.linalg.pinv(design) @ targets.double()


def codebook_rows(codebook: torch.Tensor, covered: list[list[int]], token_rows: torch.Tensor) -> torch.Tensor:
    """Embedding rows for all K codes, mapped from the codebook by a map fitted on the codes that occur."""
    used = [code for code, ids in enumerate(covered) if ids]
    if not used:
        raise ConfigError("latent_init=codebook needs training codes, but no code occurs in them")
    targets = torch.stack([token_rows[covered[code]].float().mean(0) for code in used])
    mapping = fit_linear_map(codebook[used].float(), targets)
    design = torch.cat([codebook.float(), torch.ones(len(codebook), 1)], dim=1).double()
    return (design @ mapping).to(token_rows.dtype)


def add_latent_embeddings(
    model,
    vocab: LatentVocab,
    init: str = "mean",
    codebook: torch.Tensor | None = None,
    covered: list[list[int]] | None = None,
) -> None:
    """Resize `model` to hold vocab.new_ids and initialise those rows; a vocab with no new ids changes nothing."""
    check_choice("model.latent_init", init, LATENT_INITS)
    if not vocab.new_ids:
        if init == "codebook":  # said, not ignored: the rows the model has stay as they are
            raise ConfigError(
                "model.latent_init=codebook: the model already has its latent-token rows (model.path is a model "
                "saved with them), so none start here; leave model.latent_init at mean"
            )
        return
    if init == "codebook" and (codebook is None or covered is None):
        raise ConfigError("latent_init=codebook needs the VQ-VAE codebook and the training codes")
    add_mean_rows(model, vocab.new_ids)
    if init == "codebook":
        first_new = min(vocab.new_ids)
        code_ids = [vocab.code_id(code) for code in range(vocab.codebook_size)]
        with torch.no_grad():
            for weight in embedding_weights(model):
                weight[code_ids] = codebook_rows(codebook, covered, weight[:first_new])
