"""Batched generation with a KV cache allocated once: prompts sorted by length, left-padded, decoded together by
`generate`."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessorList

from ..config import check_code_choice
from ..data.padding import padded
from ..latent.vocab import latent_vocab
from .forcing import LatentBlockOpening
from .pooled_codes import PooledCodes
from .tokens import latent_token_ids, trim


@dataclass(frozen=True)
class Decoding:
    """Greedy when top_k is None; else `samples` draws per prompt from the top_k most likely tokens."""

    top_k: int | None = None
    samples: int = 1

    def generation_config(self, tokenizer, max_new_tokens: int):
        from transformers import GenerationConfig

        # Everything pinned: values left unset would be filled in from the checkpoint's own generation_config.
        sampling = dict(top_k=self.top_k, top_p=1.0, temperature=1.0) if self.top_k else {}
        return GenerationConfig(
            do_sample=bool(self.top_k),
            num_beams=1,
            max_new_tokens=max_new_tokens,
            num_return_sequences=self.samples,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            # A KV cache allocated once: the default one grows by concatenation, copying itself at every token
            # (most of the maze's sampling time on a CPU). Never compiled, so the same on every device.
            cache_implementation="static",
            disable_compile=True,
            **sampling,
        )


GREEDY = Decoding()


def without_cache_choice(config):
    """`config` for generating on in a cache given to `generate`, which must not also name a cache to make."""
    config = copy.deepcopy(config)
    config.cache_implementation = None
    return config


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad on the left, so that every prompt ends at the last column and generation appends to all at once."""
    input_ids, mask = padded(prompts, pad_id, left=True)
    return input_ids.to(device), mask.long().to(device)


def generate(
    model,
    tokenizer,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    decoding: Decoding = GREEDY,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    desc: str = "generating",
    force_latents: int | None = None,
    code_choice: str = "token",
    embed=None,
) -> list[list[list[int]]]:
    """For each prompt, `decoding.samples` generations as ids, each cut after its EOS.

    `batch_size` counts sequences, so a batch holds batch_size // samples prompts. Sampling draws from a
    generator seeded with `seed` (the caller's RNG state is left untouched): equal inputs give equal outputs.
    `force_latents` = k opens every generation with a latent block of k codes (forcing.py).
    `code_choice` "pooled" weighs the codes inside a latent block as one (pooled_codes.py); "token" weighs every
    token on its own. A model without latent tokens decodes the same under both.
    `embed` (input_ids, attention_mask) -> (inputs_embeds, attention_mask, KV cache or None), where given, turns
    each batch of left-padded prompts into the input embeddings generation starts from (continuous or soft
    thoughts); the cache, where there is one, holds the leading columns already computed, which are not run again.
    """
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))  # little padding; long ones first
    prompts_per_batch = max(1, batch_size // decoding.samples)
    config = decoding.generation_config(tokenizer, max_new_tokens)
    generations: list[list[list[int]]] = [[] for _ in prompts]
    check_code_choice(code_choice)
    pooled = code_choice == "pooled" and bool(latent_token_ids(tokenizer))
    vocab = latent_vocab(tokenizer) if force_latents is not None or pooled else None
    devices = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        with tqdm(total=len(prompts), desc=desc, unit="example", disable=not progress) as bar:
            for start in range(0, len(order), prompts_per_batch):
                batch = order[start : start + prompts_per_batch]
                input_ids, attention_mask = left_pad([prompts[i] for i in batch], tokenizer.pad_token_id, model.device)
                # logits processors see only the new ids when generation starts from embeddings
                prompt_length = 0 if embed is not None else input_ids.shape[1]
                processors = LogitsProcessorList()
                if force_latents is not None:
                    processors.append(LatentBlockOpening(vocab, force_latents, prompt_length))
                if pooled:  # after the forcing, so the code picked to carry the pooled score is one it allows
                    processors.append(PooledCodes(vocab, decoding.top_k))
                options = dict(generation_config=config, logits_processor=processors)
                if embed is None:
                    output = model.generate(input_ids=input_ids, attention_mask=attention_mask, **options)
                    output = output[:, input_ids.shape[1] :]
                else:  # from embeddings alone, generate returns only the new ids
                    embeds, mask, cache = embed(input_ids, attention_mask)
                    if cache is not None:  # generation goes on in the cache the leading columns were computed into
                        options["generation_config"] = without_cache_choice(config)
                        if decoding.samples > 1:
                            cache.batch_repeat_interleave(decoding.samples)  # generate repeats the tensors, not the cache
                    output = model.generate(inputs_embeds=embeds, attention_mask=mask, past_key_values=cache, **options)
                new_ids = output.reshape(len(batch), decoding.samples, -1).tolist()
                for index, samples in zip(batch, new_ids):
                    generations[index] = [trim(ids, tokenizer.eos_token_id) for ids in samples]
                bar.update(len(batch))
    return generations
