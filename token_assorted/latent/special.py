"""Extra special tokens the related methods add to a tokenizer (<pause>, <bot>, <eot>, <thought>), and their rows.

Like the latent tokens they are added as special tokens (one unit each) and their new embedding rows
start at the mean of the existing ones.
"""

from __future__ import annotations

from typing import Sequence

import torch


def add_special_tokens(tokenizer, tokens: Sequence[str]) -> tuple[list[int], list[int]]:
    """(the ids of `tokens`, the ids this call added); tokens the tokenizer already has are kept as they are."""
    from tokenizers import AddedToken

    missing = [token for token in tokens if token not in tokenizer.get_vocab()]
    before = len(tokenizer)
    if missing:
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in missing], special_tokens=True)
    return tokenizer.convert_tokens_to_ids(list(tokens)), list(range(before, len(tokenizer)))


def embedding_weights(model) -> list[torch.Tensor]:
    """The input and output embedding matrices, a tied one once."""
    weights = (model.get_input_embeddings().weight, model.get_output_embeddings().weight)
    return list({id(w): w for w in weights}.values())


def add_mean_rows(model, new_ids: Sequence[int]) -> None:
    """Resize `model` to hold new_ids; their input and output rows start at the mean of the rows before them."""
    if not new_ids:
        return
    rows = max(model.get_input_embeddings().weight.shape[0], max(new_ids) + 1)
    model.resize_token_embeddings(rows, mean_resizing=False)
    first_new = min(new_ids)
    with torch.no_grad():
        for weight in embedding_weights(model):
            weight[list(new_ids)] = weight[:first_new].mean(0)
