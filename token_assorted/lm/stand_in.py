"""A stand-in for a pretrained causal LM, for tests and CPU demos of the `model.path=DIR` path: no download.

A tiny randomly initialised Llama (2 layers, 32 wide by default) and a byte-level BPE tokenizer trained on
the given texts with the `tokenizers` library, saved with save_pretrained like a hub model. Like Llama-3's,
the tokenizer adds a BOS token and has no pad token (the toolkit pads with EOS).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..io import atomic_dir


def build_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 300):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")


def save_stand_in(directory, texts: Iterable[str], *, hidden_size: int = 32, layers: int = 2, heads: int = 2,
                  vocab_size: int = 300, seed: int = 0) -> Path:
    """Write a tiny Llama and its tokenizer to `directory`; returns the directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_bpe_tokenizer(texts, vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    with atomic_dir(directory) as tmp:
        LlamaForCausalLM(config).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(directory)
