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


class GlobalBatchSampler(torch.utils.data.Sampler):
    """This process's records, global batch after global batch; a DataLoader with batch_size // world size
    cuts them back into the per-process batches. Shuffled per epoch with (seed, epoch)."""

    def __init__(self, size: int, batch_size: int, *, shuffle: bool, seed: int = 0):
        self.size, self.batch_size, self.shuffle, self.seed = size, batch_size, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this before each epoch."""
        self.epoch = epoch

    def global_batches(self) -> list[list[int]]:
        if self.shuffle:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch)).tolist()
        else:
            order = list(range(self.size))
        return [order[i : i + self.batch_size] for i in range(0, self.size, self.batch_size)]

    def __iter__(self):
        rank, world_size = process_rank()
        return iter([index for batch in shard(self.global_batches(), rank, world_size) for index in batch])

    def __len__(self) -> int:
        rank, world_size = process_rank()
        return sum(len(batch) for batch in shard(self.global_batches(), rank, world_size))
