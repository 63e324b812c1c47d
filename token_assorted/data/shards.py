"""Splitting each global batch across the processes of a Lightning DDP/FSDP run.

`batch_size` in the configs is the global batch: with W processes each one takes every W-th record of
every batch, so one optimizer step sees the same records whether the run has one process or several.
The rank is read when batches are made (after Lightning has set up the process group), not when the
loader is built, because Lightning starts the other processes only inside `Trainer.fit`.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError


def process_rank() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) outside a distributed run."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def shard(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """This process's part of each global batch; batches too small to give every process a record are dropped."""
    if world_size == 1:
        return batches
    return [batch[rank::world_size] for batch in batches if len(batch) >= world_size]


def check_divisible(batch_size: int, world_size: int, key: str) -> None:
    if batch_size % world_size:
        raise ConfigError(
            f"{key}={batch_size} is the global batch; it must be a multiple of the {world_size} processes"
        )
