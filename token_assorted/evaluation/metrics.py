"""Scoring generations with the task's own scorer, and the summary numbers of a run.

Every prediction row has "solved", the outcome that accuracy counts: the greedy answer is right
(ProntoQA, ProsQA), or, where rows carry "samples" (the maze), at least one sample is feasible
(the paper's 1-Feasible-10).
"""

from __future__ import annotations

from statistics import fmean
from typing import Iterable, Sequence

from .tokens import completion_text, count_tokens

TOKEN_FIELDS = ("generated_tokens", "latent_tokens", "text_tokens", "thought_tokens")


def score_generation(
    task, tokenizer, record: dict, ids: Sequence[int], latent_ids: frozenset[int], thoughts: int = 0
) -> dict:
    """The completion text, the task's verdict on it and its token counts (`thoughts` fed before it)."""
    completion = completion_text(tokenizer, ids)
    counts = count_tokens(ids, latent_ids, thoughts).as_dict()
    return {"completion": completion, **task.score(record, completion), **counts}


def one_feasible(samples: Iterable[dict]) -> bool:
    """1-Feasible-k: at least one of the k samples is a feasible plan."""
    return any(sample["feasible"] for sample in samples)


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return fmean(values) if values else None


def token_means(generations: Sequence[dict], prefix: str = "") -> dict[str, float | None]:
    return {prefix + name: mean(g.get(name, 0) for g in generations) for name in TOKEN_FIELDS}  # no thoughts: 0


def summarize(rows: Sequence[dict], seconds: float) -> dict:
    """Accuracy, mean token counts of the generations that decided it, and speed.

    With samples, the token means are over all samples (they are what was scored), and the greedy
    generation's feasible and optimal rates and token means sit beside them.
    """
    solved = sum(row["solved"] for row in rows)
    sampled = bool(rows) and "samples" in rows[0]
    counted = [sample for row in rows for sample in row["samples"]] if sampled else rows
    summary = {
        "n": len(rows),
        "solved": solved,
        "accuracy": solved / len(rows) if rows else None,
        **token_means(counted),
        "seconds": seconds,
        "examples_per_s": len(rows) / seconds if seconds > 0 else None,
        "seconds_per_solved": seconds / solved if solved else None,
    }
    if sampled:
        summary |= {
            "samples_per_example": len(rows[0]["samples"]),
            "greedy_feasible": mean(row["feasible"] for row in rows),
            "greedy_optimal": mean(row["optimal"] for row in rows),
            **token_means(rows, prefix="greedy_"),
        }
    return summary
