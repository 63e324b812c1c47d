"""What every task module shares: drawing deduplicated splits and reading an answer off a completion.

A task module defines
    NAME, SPLITS (default split sizes), Params (a dataclass of generator knobs),
    sample(rng, params) -> record, key(record) -> hashable (items with equal keys never repeat),
    score(record, completion) -> dict with at least "correct" (bool).
"""

from __future__ import annotations

import random
from typing import Callable, Hashable

from tqdm.auto import tqdm

SPLIT_NAMES = ("train", "valid", "test")


def generate_splits(
    sample: Callable[[random.Random], dict],
    key: Callable[[dict], Hashable],
    sizes: dict[str, int],
    seed: int,
    desc: str = "generating",
    progress: bool = True,
    max_tries_per_item: int = 1000,
) -> dict[str, list[dict]]:
    """Fill each split in turn from one seeded stream, never repeating a key across or within splits."""
    rng = random.Random(seed)
    seen: set = set()
    splits: dict[str, list[dict]] = {}
    with tqdm(total=sum(sizes.values()), desc=desc, disable=not progress, unit="item") as bar:
        for split, size in sizes.items():
            items: list[dict] = []
            misses = 0
            while len(items) < size:
                record = sample(rng)
                k = key(record)
                if k in seen:
                    misses += 1
                    if misses > max_tries_per_item * max(size, 1):
                        raise RuntimeError(f"{desc}: cannot find {size} distinct items for split '{split}'")
                    continue
                seen.add(k)
                items.append(record)
                bar.update(1)
            splits[split] = items
    return splits


def extract_answer(completion: str) -> str:
    """The answer is the text after the last '#', stripped (Coconut's rule)."""
    return completion.split("#")[-1].strip()


def exact_match(record: dict, completion: str) -> dict:
    return {"correct": extract_answer(completion) == record["answer"].strip()}
