"""Tokenizers: a word-level one built from a training split, or a pretrained one from a local path.

The word-level tokenizer keeps each word's leading space inside the token (" tumpus"), splits off
punctuation and the newline, and decodes by plain concatenation, so decode(encode(text)) == text for
any text made of known words that does not start with a space. A word that starts a text or a line is read as if a
space came before it, so that "Sam" opening a reasoning step (each step is encoded on its own) is the token " Sam" of
the question: without that, every lookup from a step's first word into the question first needed a learnt link
between two unrelated tokens (docs/learning.md). Decoding takes that space off again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from ..errors import ConfigError, DataError
from ..io import atomic_dir

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
# The answer mark "###" (one token, as in GPT-2's vocabulary), a word, or a single punctuation mark, each with its
# leading space, or a newline.
WORD_PATTERN = r" ?###| ?[A-Za-z0-9_]+| ?[^\sA-Za-z0-9_]|\n| +"
# where a space goes in: before a word (or the answer mark) that starts the text or a line. Only there: text after an
# added token (a latent block) keeps its own spacing, so it encodes as the same tokens it was decoded from
LINE_START = r"(?:\A|(?<=\n))(?=[A-Za-z0-9_#])"


def _normalizer():
    from tokenizers import Regex, normalizers

    return normalizers.Replace(Regex(LINE_START), " ")


def _pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated")


def _decoder():
    """The tokens joined, less the space _normalizer put at the start and after each newline."""
    from tokenizers import decoders

    return decoders.Sequence([decoders.Fuse(), decoders.Strip(" ", 1, 0), decoders.Replace("\n ", "\n")])


def split_words(text: str) -> list[str]:
    return [piece for piece, _ in _pre_tokenizer().pre_tokenize_str(_normalizer().normalize_str(text))]


def build_word_tokenizer(texts, min_count: int = 1):
    """A `PreTrainedTokenizerFast` whose vocabulary is every word of `texts`, most frequent first."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    counts = Counter(piece for text in texts for piece in split_words(text))
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    vocab = {token: i for i, token in enumerate([PAD, UNK, EOS, *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.normalizer = _normalizer()
    backend.pre_tokenizer = _pre_tokenizer()
    backend.decoder = _decoder()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=EOS,
        bos_token=None,
        clean_up_tokenization_spaces=False,
        padding_side="left",
    )


def save_tokenizer(tokenizer, directory, stamp: dict[str, str] | None = None) -> None:
    """Save atomically: a tokenizer directory is either complete or absent. `stamp` adds small text files."""
    with atomic_dir(directory) as tmp:
        tokenizer.save_pretrained(tmp)
        for name, text in (stamp or {}).items():
            (tmp / name).write_text(text)


def load_tokenizer(name_or_path):
    """`AutoTokenizer` from a local directory (or a hub name, for users who have access)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot load a tokenizer from '{name_or_path}': {err}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def tokenizer_checksum(tokenizer, size: int | None = None) -> str:
    """Identifies a vocabulary: two tokenizers with equal checksums map text to the same ids. `size`: of its first
    `size` ids alone, what a tokenizer extended with special tokens (latent codes) shares with the one it extends,
    where every id from `size` on is such a token (text never encodes to one); of the whole vocabulary otherwise."""
    special = {index for index, token in tokenizer.added_tokens_decoder.items() if token.special}
    if size is not None and not set(range(size, len(tokenizer))) <= special:
        size = None
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])[:size]
    return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()[:16]


def check_known_words(tokenizer, text: str, *, file=None, record: int | None = None, field: str | None = None):
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in tokenizer.encode(text):
        unknown = [w for w in split_words(text) if w not in tokenizer.get_vocab()]
        raise DataError(f"words missing from the tokenizer's vocabulary: {unknown[:5]}", file=file, record=record, field=field)
