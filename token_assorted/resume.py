"""Resuming an interrupted training run from its last checkpoint, mid-epoch included.

Lightning's `ckpt_path` restores the model, optimizer, scheduler, loop counters and callback states. Two things
it cannot restore by itself: where the run stood inside an epoch's data order, and the global random
generators. Batch samplers whose order depends only on (seed, epoch) and the `ResumeState` callback add
those, so a run killed at any point and started again with the same command ends exactly as an uninterrupted
one would. A checkpoint directory's `run.json` holds the stage's identity and process layout
(identity.py): a run that would make something else starts afresh instead of resuming somebody else's, while one
that changes only how it runs (pipeline.workers, logging, eval.*) resumes.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities import rank_zero_only

from .identity import changes
from .data.shards import process_rank, shard
from .io import write_json

LAST = "last.ckpt"
RUN = "run.json"


def epoch_seed(seed: int, epoch: int) -> int:
    """One epoch's shuffling seed. Mixed, not added: with seed + epoch, seed 1 would replay seed 0's orders one
    epoch late, and runs at neighbouring seeds would not be independent."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class EpochBatches(torch.utils.data.Sampler):
    """Shuffled batches of indices in an order fixed by (seed, epoch). `batch_size` is the global batch: under
    DDP each process takes its share of every batch (data/shards.py), read when the batches are made, since
    Lightning starts the other processes only inside `fit`.

    `ResumeState` sets the epoch before each one. After `resume(epoch, done)` the next pass over that epoch
    skips its first `done` batches, which the interrupted run has already trained on.
    """

    def __init__(self, size: int, batch_size: int, seed: int):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.epoch = 0
        self.skip: tuple[int, int] | None = None  # (epoch, batches already done)

    def all_batches(self, generator: torch.Generator) -> list[list[int]]:
        order = torch.randperm(self.size, generator=generator).tolist()
        return [order[i : i + self.batch_size] for i in range(0, self.size, self.batch_size)]

    def batches(self) -> list[list[int]]:
        rank, world_size = process_rank()
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        return shard(self.all_batches(generator), rank, world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, done: int) -> None:
        self.epoch, self.skip = epoch, (epoch, done)

    def __iter__(self):
        batches = self.batches()
        done = self.skip[1] if self.skip and self.skip[0] == self.epoch else 0
        self.skip = None
        return iter(batches[done:])

    def __len__(self) -> int:
        return len(self.batches())  # the whole epoch, also when resuming: Lightning counts the skipped batches as done


class LengthGroupedBatches(EpochBatches):
    """EpochBatches of records of similar length, in random order: shuffle, sort windows of `window` batches by
    length, cut them into batches, shuffle the batches. Padding (and attention over it) mostly disappears; with
    window 1 only the order inside each batch changes. Sharded and resumed as EpochBatches are.

    lengths(epoch): the `size` records' lengths in that epoch (a mode may draw its samples afresh each epoch)."""

    def __init__(self, size: int, lengths: Callable[[int], Sequence[int]], batch_size: int, seed: int, window: int):
        super().__init__(size, batch_size, seed)
        self.lengths, self.window = lengths, window

    def all_batches(self, generator: torch.Generator) -> list[list[int]]:
        order = torch.randperm(self.size, generator=generator).tolist()
        lengths = self.lengths(self.epoch)
        batches = []
        span = self.window * self.batch_size
        for start in range(0, len(order), span):
            group = sorted(order[start : start + span], key=lengths.__getitem__)
            batches += [group[i : i + self.batch_size] for i in range(0, len(group), self.batch_size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


class ResumeState(L.Callback):
    """Keeps the position inside the epoch and the random generators' states in every checkpoint."""

    def __init__(self, sampler: EpochBatches | None = None):
        self.sampler = sampler  # the training loader's; set before fit, once the loader exists
        self.epoch = self.done = 0
        self.generators: dict | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epoch, self.done = trainer.current_epoch, 0
        self.sampler.set_epoch(trainer.current_epoch)  # before the epoch's iterator is made

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # runs before ModelCheckpoint's hook (Lightning runs checkpoint callbacks last), so a step checkpoint sees it
        self.epoch, self.done = trainer.current_epoch, batch_idx + 1

    def on_train_start(self, trainer, pl_module) -> None:
        if self.generators is not None:  # after the restore and the sanity check: what the next step would have had
            set_generator_states(self.generators)
            self.generators = None

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "done": self.done, "generators": generator_states()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.done = state["epoch"], state["done"]
        self.sampler.resume(self.epoch, self.done)
        self.generators = state["generators"]


def generator_states() -> dict:
    """Tensors and plain values only, so that checkpoints load with torch.load(weights_only=True)."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    numpy = [name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss]
    states = {"torch": torch.get_rng_state(), "numpy": numpy, "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_generator_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    name, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class LastCheckpoint(Checkpoint):
    """Writes `directory`/last.ckpt (atomically, with Lightning's own save) every n optimizer steps, one batch
    before the end of every epoch, so that each epoch leaves one, and when Ctrl-C or SIGTERM stops the run.

    Never at an epoch's last batch or its end: Lightning 2.6, resumed from a checkpoint taken there, ends the
    run without training the epochs left. A run killed after that point redoes the epoch's last batch.
    """

    def __init__(self, directory: Path, every_n_steps: int):
        self.path, self.every = Path(directory) / LAST, every_n_steps
        self.interrupted: str | None = None  # the signal asking the run to stop
        self.handlers: dict = {}

    def on_train_start(self, trainer, pl_module) -> None:
        """Ctrl-C or SIGTERM stop the run at the end of the batch in progress, with a checkpoint; a second Ctrl-C
        stops it at once. Only in the main thread, where Python takes signal handlers."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.handlers[sig] = signal.signal(sig, self.request_stop)

    def request_stop(self, signum, frame) -> None:
        if self.interrupted and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.interrupted = signal.Signals(signum).name

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        remaining = trainer.num_training_batches - (batch_idx + 1)
        if remaining >= 1 and (trainer.global_step % self.every == 0 or remaining == 1 or self.interrupted):
            trainer.save_checkpoint(self.path, weights_only=False)
        if self.interrupted:  # at an epoch's last batch the checkpoint one batch before stands: that batch is redone
            if rank_zero_only.rank == 0:
                print(f"\n{self.interrupted}: interrupted at step {trainer.global_step}; run the same command to "
                      "resume", file=sys.stderr, flush=True)
            raise SystemExit(130)

    def on_train_end(self, trainer, pl_module) -> None:
        self.restore_handlers()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.restore_handlers()

    def restore_handlers(self) -> None:
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)
        self.handlers = {}


def merged_logs(files: list[Path]) -> str:
    """The CSV logs of a run's attempts (the first, then each resumed one) as one CSV: an attempt's rows stop where
    the next attempt's begin, so steps redone after a crash appear once."""
    attempts = []
    for file in files:
        text = Path(file).read_text(encoding="utf-8")
        if not text.endswith("\n"):  # a kill while the last row was written cut it short: it is left out
            text = text[: text.rfind("\n") + 1]
        attempts.append(list(csv.DictReader(io.StringIO(text, newline=""))))
    rows = []
    for index, attempt in enumerate(attempts):
        later = [int(row["step"]) for next_attempt in attempts[index + 1 :] for row in next_attempt]
        rows += [row for row in attempt if not later or int(row["step"]) < min(later)]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def checkpoint_to_resume(directory: Path, identity: dict) -> str | None:
    """`directory`'s last checkpoint if it was written by a run with this `identity` (settings and input checksums);
    otherwise the directory is cleared for a fresh run, stamped with `identity`, and None is returned."""
    identity = json.loads(json.dumps(identity))
    stamp, last = directory / RUN, directory / LAST
    if stamp.is_file() and last.is_file():
        made_under = json.loads(stamp.read_text(encoding="utf-8"))
        changed = changes(made_under, identity, within=("settings", "inputs", "process"))
        if not changed:
            print(f"resuming from {last}", flush=True)
            return str(last)
        if rank_zero_only.rank == 0:  # a crashed run's checkpoints, about to go: say why
            print(f"note: not resuming from {last}, made under other settings ({', '.join(changed)})", flush=True)
    shutil.rmtree(directory, ignore_errors=True)
    write_json(stamp, identity)
    return None
