"""The latent vocabulary: K code tokens `<latent_0>` … `<latent_{K-1}>` and the delimiters around a latent block.

A latent token is a VQ-VAE codebook index. The tokens are added to the tokenizer as special tokens, so
each one encodes and decodes as a single unit, and the code ids are contiguous, so code <-> id is a shift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ..errors import ConfigError

BEGIN_LATENT = "<boLatent>"
END_LATENT = "<eoLatent>"
LATENT_PATTERN = re.compile(r"<latent_(\d+)>")


def latent_token(code: int) -> str:
    return f"<latent_{code}>"


def latent_tokens(codebook_size: int) -> list[str]:
    """Every token this vocabulary adds, in the order they are added: the codes, then the two delimiters."""
    return [latent_token(code) for code in range(codebook_size)] + [BEGIN_LATENT, END_LATENT]


@dataclass(frozen=True)
class LatentVocab:
    """Where the latent tokens sit in a tokenizer's vocabulary."""

    first_code_id: int  # id of <latent_0>; <latent_k> is first_code_id + k
    codebook_size: int  # K
    begin_id: int  # <boLatent>
    end_id: int  # <eoLatent>
    new_ids: tuple[int, ...] = ()  # ids added by the call that made this (their embeddings need a start value)

    def code_id(self, code: int) -> int:
        if not 0 <= code < self.codebook_size:
            raise ValueError(f"code {code} is outside the codebook of size {self.codebook_size}")
        return self.first_code_id + code

    def code_ids(self, codes: Iterable[int]) -> list[int]:
        return [self.code_id(code) for code in codes]

    def code_of(self, token_id: int) -> int | None:
        """The codebook index a token id stands for, or None for a text token or a delimiter."""
        code = token_id - self.first_code_id
        return code if 0 <= code < self.codebook_size else None

    @property
    def code_id_range(self) -> range:
        """The ids of the K code tokens."""
        return range(self.first_code_id, self.first_code_id + self.codebook_size)

    @property
    def ids(self) -> list[int]:
        """Every latent id: the codes and both delimiters."""
        return [*self.code_id_range, self.begin_id, self.end_id]


def latent_vocab(tokenizer) -> LatentVocab:
    """Read the latent tokens off a tokenizer that already has them (for instance one saved by fine-tuning)."""
    vocab = tokenizer.get_vocab()
    codes = sorted(int(m.group(1)) for token in vocab if (m := LATENT_PATTERN.fullmatch(token)))
    if not codes or BEGIN_LATENT not in vocab or END_LATENT not in vocab:
        raise ConfigError("the tokenizer has no latent tokens; extend it with token_assorted.latent.extend_tokenizer")
    size = len(codes)
    first = vocab[latent_token(0)]
    if codes != list(range(size)) or any(vocab[latent_token(c)] != first + c for c in codes):
        raise ConfigError(f"the tokenizer's latent tokens are not <latent_0>..<latent_{size - 1}> with consecutive ids")
    return LatentVocab(first, size, vocab[BEGIN_LATENT], vocab[END_LATENT])


def extend_tokenizer(tokenizer, codebook_size: int) -> LatentVocab:
    """Add K latent codes and the two delimiters to `tokenizer` (in place) as special tokens.

    A tokenizer that already holds exactly these tokens is left as it is (new_ids is then empty), so a
    fine-tuned model can be fine-tuned again; one with latent tokens for another K is an error.
    """
    from tokenizers import AddedToken

    present = [token for token in latent_tokens(codebook_size) if token in tokenizer.get_vocab()]
    if present:
        vocab = latent_vocab(tokenizer)
        if vocab.codebook_size != codebook_size:
            raise ConfigError(
                f"the tokenizer already has {vocab.codebook_size} latent tokens, but the codebook has {codebook_size}"
            )
        return vocab
    before = len(tokenizer)
    tokenizer.add_tokens(
        [AddedToken(token, special=True, normalized=False) for token in latent_tokens(codebook_size)],
        special_tokens=True,
    )
    vocab = latent_vocab(tokenizer)
    added = tuple(range(before, len(tokenizer)))
    return LatentVocab(vocab.first_code_id, codebook_size, vocab.begin_id, vocab.end_id, added)
