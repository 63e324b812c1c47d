"""Reading a generation: where it ends, which of its tokens are latent, and the latent blocks it holds.

Latent tokens are the codes `<latent_i>` and the delimiters `<boLatent>`, `<eoLatent>`. They are special
tokens, so a generation is decoded with skip_special_tokens=False to keep them in the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..latent.vocab import BEGIN_LATENT, END_LATENT, LATENT_PATTERN


def latent_code(token: str) -> int | None:
    """The codebook index a latent code token stands for, or None for any other token."""
    match = LATENT_PATTERN.fullmatch(token)
    return int(match.group(1)) if match else None


def is_latent_token(token: str) -> bool:
    return token in (BEGIN_LATENT, END_LATENT) or latent_code(token) is not None


def latent_token_ids(tokenizer) -> frozenset[int]:
    """Read off the vocabulary by name, so a model without latent tokens (a baseline) simply has none."""
    return frozenset(i for token, i in tokenizer.get_vocab().items() if is_latent_token(token))


def trim(ids: Sequence[int], eos_id: int) -> list[int]:
    """The generated ids up to and including the first EOS; what follows it is padding."""
    ids = list(ids)
    return ids[: ids.index(eos_id) + 1] if eos_id in ids else ids


def completion_text(tokenizer, ids: Sequence[int]) -> str:
    """A trimmed generation as text, latent tokens kept, the closing EOS left out."""
    if ids and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return tokenizer.decode(list(ids), skip_special_tokens=False)


@dataclass(frozen=True)
class TokenCounts:
    generated: int  # every generated token, the closing EOS included, and the thoughts
    latent: int  # latent codes and their delimiters
    text: int  # the rest of what the model wrote
    thought: int = 0  # positions the method fed before generating: pauses, continuous or soft thoughts

    def as_dict(self) -> dict[str, int]:
        return {"generated_tokens": self.generated, "latent_tokens": self.latent, "text_tokens": self.text,
                "thought_tokens": self.thought}


def count_tokens(ids: Sequence[int], latent_ids: frozenset[int], thoughts: int = 0) -> TokenCounts:
    latent = sum(1 for i in ids if i in latent_ids)
    return TokenCounts(generated=len(ids) + thoughts, latent=latent, text=len(ids) - latent, thought=thoughts)


def latent_blocks(tokens: Sequence[str]) -> list[list[int]]:
    """The codes of each run of latent code tokens, in order; delimiters and text end a run."""
    blocks: list[list[int]] = []
    run: list[int] = []
    for token in tokens:
        code = latent_code(token)
        if code is not None:
            run.append(code)
        elif run:
            blocks.append(run)
            run = []
    return blocks + ([run] if run else [])
