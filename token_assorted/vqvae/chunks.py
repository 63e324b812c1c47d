"""Cutting reasoning traces into chunks of L tokens and padding a batch of records into tensors.

A trace of n tokens fills ceil(n / L) chunks; the last one is padded with the pad id. Padded positions are
masked out of attention and of the loss, except the first one: there the decoder must write EOS, so that
decoding codes back to text knows where the trace ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from ..data.padding import padded
from ..resume import LengthGroupedBatches

IGNORE = -100  # cross-entropy's ignore_index


@dataclass
class Batch:
    prompt_ids: Tensor  # (B, P), padded with the pad id
    prompt_mask: Tensor  # (B, P), True on prompt tokens
    trace_ids: Tensor  # (B, n*L), reasoning tokens then the pad id
    trace_mask: Tensor  # (B, n*L), True on reasoning tokens
    targets: Tensor  # (B, n*L), what f_dec must write: the trace, EOS right after it, IGNORE elsewhere
    chunk_mask: Tensor  # (B, n), True on the record's chunks

    def __len__(self) -> int:
        return self.prompt_ids.shape[0]

    def to(self, device) -> "Batch":
        return Batch(*(getattr(self, f.name).to(device) for f in fields(self)))


def num_chunks(length: int, chunk_size: int) -> int:
    return max(1, math.ceil(length / chunk_size))


def collate(rows: list[tuple[list[int], list[int]]], *, chunk_size: int, pad_id: int, eos_id: int) -> Batch:
    """`rows` are (prompt_ids, reasoning_ids) pairs; each trace is padded to the batch's largest chunk count."""
    chunks = max(num_chunks(len(trace), chunk_size) for _, trace in rows)
    prompt_ids, prompt_mask = padded([prompt for prompt, _ in rows], pad_id)
    trace_ids, trace_mask = padded([trace for _, trace in rows], pad_id, width=chunks * chunk_size)
    targets = trace_ids.masked_fill(~trace_mask, IGNORE)
    chunk_mask = torch.zeros(len(rows), chunks, dtype=torch.bool)
    for i, (_, trace) in enumerate(rows):
        if len(trace) % chunk_size:
            targets[i, len(trace)] = eos_id
        chunk_mask[i, : num_chunks(len(trace), chunk_size)] = True
    return Batch(prompt_ids, prompt_mask, trace_ids, trace_mask, targets, chunk_mask)


def sorted_batches(
    rows: list[tuple[list[int], list[int]]], *, batch_size: int, chunk_size: int, pad_id: int, eos_id: int
):
    """Yield (row indices, Batch) over batches of similar lengths, so little is padding; callers restore the order."""
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i][1]), len(rows[i][0])))
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        yield indices, collate([rows[i] for i in indices], chunk_size=chunk_size, pad_id=pad_id, eos_id=eos_id)


def loader(
    rows: list[tuple[list[int], list[int]]], *, batch_size: int, chunk_size: int, pad_id: int, eos_id: int,
    seed: int | None = None, window: int | None = None, num_workers: int = 0,
):
    """A DataLoader of Batches: in order when seed is None; else shuffled with `seed` in batches of similar length,
    each drawn from `window` batches' worth of records (vqvae.train.length_window; 1 = plain shuffled)."""
    from functools import partial

    from torch.utils.data import DataLoader

    collate_fn = partial(collate, chunk_size=chunk_size, pad_id=pad_id, eos_id=eos_id)
    if seed is None:
        return DataLoader(rows, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate_fn)
    if window is None:
        raise ValueError("a shuffled loader needs its length window (vqvae.train.length_window)")
    lengths = [len(prompt) + 4 * len(trace) for prompt, trace in rows]  # the trace passes through both f_enc and f_dec
    sampler = LengthGroupedBatches(len(rows), lambda epoch: lengths, batch_size, seed, window)
    return DataLoader(rows, batch_sampler=sampler, num_workers=num_workers, collate_fn=collate_fn)
