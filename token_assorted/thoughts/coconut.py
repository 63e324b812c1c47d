"""Continuous thoughts (Coconut, Hao et al., 2024).

Stage k of the curriculum replaces the first k reasoning steps with k·c continuous thoughts:

    P <bot> θ_1 … θ_{k·c} <eot> ⊕ (the steps after the first k) ⊕ S

θ_1 is the last hidden state at <bot>, θ_{i+1} the last hidden state at θ_i: each is fed back as the next
input embedding. A stage beyond the trace's steps still has k·c thoughts (all steps gone), so every row
of a batch has the same thoughts in the same columns (batches.py) and a stage is one batched pass for
the prefix, one per thought, and one for the rest, each reusing the KV cache of the passes before.
The loss skips P, <bot>, the thoughts and <eot>.

At evaluation the prompt is P <bot>; the harness appends the thoughts of the stage training ended in
(stored in the checkpoint's thoughts.json) and <eot>, then generates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..latent import IGNORE
from ..latent.special import add_mean_rows, add_special_tokens
from .batches import ThoughtExample, check_length, positions, thought_batch

BEGIN_THOUGHT, END_THOUGHT, THOUGHT = "<bot>", "<eot>", "<thought>"


@dataclass(frozen=True)
class CoconutIds:
    begin: int  # <bot>
    end: int  # <eot>
    thought: int  # <thought>: stands in a thought's column in input_ids; its embedding is never used


def add_coconut_tokens(tokenizer, model=None) -> CoconutIds:
    """Add <bot>, <eot> and <thought> to the tokenizer (and rows for them to `model`)."""
    ids, new = add_special_tokens(tokenizer, [BEGIN_THOUGHT, END_THOUGHT, THOUGHT])
    if model is not None:
        add_mean_rows(model, new)
    return CoconutIds(*ids)


def thought_count(stage: int, per_step: int) -> int:
    return stage * per_step


def coconut_example(row: dict, stage: int, ids: CoconutIds) -> ThoughtExample:
    """The stage's sample around its thoughts: the first `stage` steps dropped (all of them once stage exceeds them)."""
    cut = sum(row["step_lengths"][:stage])
    rest = list(row["reasoning_ids"][cut:]) + list(row["solution_ids"])
    return ThoughtExample(list(row["prompt_ids"]) + [ids.begin], [ids.end] + rest, [IGNORE] + rest)


class CoconutCollator:
    """Encoded records -> a batch of the current stage (set by EpochDraws, like curriculum-replace's)."""

    def __init__(self, mode, ids: CoconutIds, *, pad_id: int, max_length: int, file=None):
        self.mode, self.ids, self.pad_id, self.max_length, self.file = mode, ids, pad_id, max_length, file
        self.epoch = 0
        self.stage = 0

    def sample_length(self, row: dict, epoch: int, stage: int) -> int:
        example = coconut_example(row, stage, self.ids)
        return len(example.prefix) + thought_count(stage, self.mode.thoughts_per_step) + len(example.suffix)

    def __call__(self, rows: list[dict]) -> dict:
        thoughts = thought_count(self.stage, self.mode.thoughts_per_step)
        examples = [coconut_example(row, self.stage, self.ids) for row in rows]
        for row, example in zip(rows, examples):
            check_length(example, thoughts, self.max_length, "coconut", self.file, row["index"])
        return thought_batch(examples, thoughts, self.ids.thought, self.pad_id)


def thought_states(model, embeds: torch.Tensor, attention_mask: torch.Tensor, start: int, count: int):
    """(the `count` thoughts from column `start` on, as (batch, count, hidden); the KV cache of the columns
    before the last thought). embeds up to `start` are the prefix; the thought columns' own are not read."""
    base = model.base_model
    pos = positions(attention_mask)
    out = base(inputs_embeds=embeds[:, :start], attention_mask=attention_mask[:, :start],
               position_ids=pos[:, :start], use_cache=True)
    cache = out.past_key_values
    states = [out.last_hidden_state[:, -1:].to(embeds.dtype)]
    for column in range(start, start + count - 1):
        out = base(inputs_embeds=states[-1], attention_mask=attention_mask[:, : column + 1],
                   position_ids=pos[:, column : column + 1], past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        states.append(out.last_hidden_state[:, -1:].to(embeds.dtype))
    return torch.cat(states, 1), cache


def coconut_logits(model, batch: dict) -> tuple[torch.Tensor, int]:
    """(logits from column `first` on, first): the columns before `first` predict nothing the loss counts."""
    input_ids, mask = batch["input_ids"], batch["attention_mask"]
    start, count = batch["thought_start"], batch["thoughts"]
    embeds = model.get_input_embeddings()(input_ids)
    pos = positions(mask)
    if count == 0:
        return model(inputs_embeds=embeds, attention_mask=mask, position_ids=pos).logits, 0
    thoughts, cache = thought_states(model, embeds, mask, start, count)
    first = start + count - 1  # the last thought goes in with everything after it, in one pass
    rest = torch.cat([thoughts[:, -1:], embeds[:, start + count :]], 1)
    out = model(inputs_embeds=rest, attention_mask=mask, position_ids=pos[:, first:], past_key_values=cache)
    return out.logits, first


def shifted_loss(logits: torch.Tensor, labels: torch.Tensor, first: int) -> torch.Tensor:
    """Next-token loss: logits at column first + j predict the label at column first + j + 1."""
    targets = labels[:, first + 1 :]
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)


def coconut_loss(model, batch: dict) -> torch.Tensor:
    logits, first = coconut_logits(model, batch)
    return shifted_loss(logits, batch["labels"], first)


def coconut_embedder(model, ids: CoconutIds, count: int):
    """For the harness: left-padded prompts ending in <bot> -> their embeddings, `count` thoughts and <eot>, and
    the KV cache the thoughts left (the prompt and every thought but the last), so generation reads them once."""

    def embed(input_ids: torch.Tensor, attention_mask: torch.Tensor):
        embeds = model.get_input_embeddings()(input_ids)
        added = torch.ones((len(input_ids), count + 1), dtype=attention_mask.dtype, device=attention_mask.device)
        mask = torch.cat([attention_mask, added], 1)  # the thoughts' columns, then <eot>'s
        parts, cache = [embeds], None
        if count:
            thoughts, cache = thought_states(model, embeds, mask, input_ids.shape[1], count)
            parts.append(thoughts)
        end = torch.full((len(input_ids), 1), ids.end, dtype=torch.long, device=input_ids.device)
        parts.append(model.get_input_embeddings()(end))
        return torch.cat(parts, 1), mask, cache

    return embed
