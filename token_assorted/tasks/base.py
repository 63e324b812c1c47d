"""What every task module shares: drawing deduplicated splits and reading an answer off a completion.

A task module defines
    NAME, SPLITS (default split sizes), Params (a dataclass of generator knobs),
    sample(rng, params) -> record, key(record) -> hashable (items with equal keys never repeat),
    generate(params, sizes, seed, progress, train_mix) -> {split: records} (generate_splits below, given sample and
    key; train_mix: knob -> values the training records draw from, where the training split mixes difficulties),
    score(record, completion) -> dict with at least "correct" (bool),
and, where a chain is a series of stated facts (ProntoQA, ProsQA), facts(record) -> the sentences a faithful
chain may write, for the evaluation's grounded_steps; where score reads more than the answer off a record (the
maze), check(record) raising ValueError for one it could not score, run before any generation; and where the
answers come from a small set, majority_rate(records) -> the accuracy of an answer that ignores the question;
where Params sets a difficulty, difficulty(params) -> a few words that name it ("3 hops"); and where a problem
counts as solved when one of k sampled answers is (the maze's 1-Feasible-k), SAMPLED = True.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from typing import Any, Callable, Hashable

from tqdm.auto import tqdm

from ..errors import ConfigError

SPLIT_NAMES = ("train", "valid", "test")
SENTENCE = re.compile(r"[^.?!\n]+[.?!]")
# Repeats in a row after which a generator counts as spent: with most of its items drawn, new ones still come every
# few hundred draws (the CPU-sized maze's layouts: docs/measurements.md)
MAX_MISSES_IN_A_ROW = 100_000


def is_sampled(task) -> bool:
    """Whether the task's accuracy is 1-Feasible-k over top-k samples rather than the greedy answer's."""
    return getattr(task, "SAMPLED", False)


def generate_splits(
    sample: Callable[[random.Random, Any], dict],
    key: Callable[[dict], Hashable],
    params,
    sizes: dict[str, int],
    seed: int,
    train_mix: dict[str, list] | None = None,
    desc: str = "generating",
    progress: bool = True,
) -> dict[str, list[dict]]:
    """Fill each split from a seeded stream of its own, never repeating a key across or within splits: the
    evaluation splits first, then train, each skipping the keys drawn before it. So a split's records depend on its
    own size and knobs alone (but for the rare draw that repeats an earlier split's key): valid and test stay the
    same whatever the training split's size or mix, and training ablations are scored on the same items. Records
    are drawn under `params`; a training record draws each knob named in `train_mix` uniformly from its values
    first. Returned in `sizes`' order."""
    seen: set = set()
    splits: dict[str, list[dict]] = {}
    with tqdm(total=sum(sizes.values()), desc=desc, disable=not progress, unit="item") as bar:
        for split, size in sorted(sizes.items(), key=lambda item: item[0] == "train"):
            rng = random.Random(f"{seed}:{split}")
            mix = train_mix if split == "train" else None
            items: list[dict] = []
            misses = 0  # draws in a row that repeated a key
            while len(items) < size:
                record = sample(rng, mixed(rng, params, mix) if mix else params)
                k = key(record)
                if k in seen:
                    misses += 1
                    if misses > MAX_MISSES_IN_A_ROW:
                        raise ConfigError(
                            f"{desc}: the generator ran out of new records after {len(seen):,}, short of the "
                            f"{sum(sizes.values()):,} that task.sizes asks for ({split}: {size:,}); lower "
                            f"task.sizes or make the task larger (task.params)"
                        )
                    continue
                misses = 0
                seen.add(k)
                items.append(record)
                bar.update(1)
            splits[split] = items
    return {split: splits[split] for split in sizes}


def mixed(rng: random.Random, params, mix: dict[str, list]):
    """`params` with each knob named in `mix` drawn uniformly from its values."""
    return dataclasses.replace(params, **{knob: rng.choice(values) for knob, values in sorted(mix.items())})


def extract_answer(completion: str) -> str:
    """The answer is the text after the last '#', stripped (Coconut's rule)."""
    return completion.split("#")[-1].strip()


def exact_match(record: dict, completion: str) -> dict:
    return {"correct": extract_answer(completion) == record["answer"].strip()}


def commonest_share(values: list) -> float:
    """The share of the commonest value: the accuracy of always giving it."""
    return Counter(values).most_common(1)[0][1] / len(values)


def sentences(text: str) -> list[str]:
    """The sentences of `text` that end with their full stop, stripped; a trailing fragment is left out."""
    return [sentence.strip() for sentence in SENTENCE.findall(text)]


def stated_facts(record: dict) -> frozenset[str]:
    """What a faithful chain writes: sentences of the question and of the reference chain's steps."""
    return frozenset(sentences(record["question"])) | {s for step in record["steps"] for s in sentences(step)}
