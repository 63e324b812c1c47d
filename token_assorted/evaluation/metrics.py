"""Scoring generations with the task's own scorer, and the summary numbers of a run.

Every prediction row has "solved", the outcome that accuracy counts: the greedy answer is right
(ProntoQA, ProsQA), or, where rows carry "samples" (the maze), at least one sample is feasible
(the paper's 1-Feasible-10).
"""

from __future__ import annotations

from statistics import fmean
from typing import Iterable, Sequence

from ..tasks.base import sentences
from .stats import wilson_interval
from .tokens import completion_text, count_tokens

TOKEN_FIELDS = ("generated_tokens", "latent_tokens", "text_tokens", "thought_tokens")


def score_generation(
    task, tokenizer, record: dict, ids: Sequence[int], latent_ids: frozenset[int], thoughts: int = 0
) -> dict:
    """The completion text, the task's verdict on it and its token counts (`thoughts` fed before it)."""
    completion = completion_text(tokenizer, ids)
    counts = count_tokens(ids, latent_ids, thoughts).as_dict()
    scored = {"completion": completion, **task.score(record, completion), **counts}
    if hasattr(task, "facts"):
        scored["grounded_steps"] = grounded_steps(task.facts(record), text_runs(tokenizer, ids, latent_ids))
    return scored


def text_runs(tokenizer, ids: Sequence[int], latent_ids: frozenset[int]) -> list[tuple[bool, str]]:
    """The generation's text between latent tokens, each run decoded alone: (whether latents came before, text)."""
    runs: list[tuple[bool, list[int]]] = [(False, [])]
    for i in ids:
        if i in latent_ids:
            if runs[-1][1] or not runs[-1][0]:
                runs.append((True, []))
        else:
            runs[-1][1].append(i)
    return [(after, tokenizer.decode(run, skip_special_tokens=True)) for after, run in runs if run]


def grounded_steps(facts: frozenset[str], runs: Sequence[tuple[bool, str]]) -> float | None:
    """The share of the sentences written before the answer that are facts of the question or steps of the
    reference chain (None if none was written). A chain that writes rules the question does not hold scores
    low however well formed it is. A sentence that a latent block cut counts if it ends such a sentence."""
    written = grounded = 0
    for after_latents, text in runs:
        chain, answered = text.split("#")[0], "#" in text  # the answer mark ends the chain
        for k, sentence in enumerate(sentences(chain)):
            cut = after_latents and k == 0
            written += 1
            grounded += sentence in facts or (cut and any(fact.endswith(sentence) for fact in facts))
        if answered:
            break
    return grounded / written if written else None


def one_feasible(samples: Iterable[dict]) -> bool:
    """1-Feasible-k: at least one of the k samples is a feasible plan."""
    return any(sample["feasible"] for sample in samples)


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return fmean(values) if values else None


def token_means(generations: Sequence[dict], prefix: str = "") -> dict[str, float | None]:
    return {prefix + name: mean(g.get(name, 0) for g in generations) for name in TOKEN_FIELDS}  # no thoughts: 0


def summarize(rows: Sequence[dict], seconds: float, greedy_seconds: float | None = None) -> dict:
    """Accuracy, and the mean token counts and speed of the generations that decided it (`seconds`: theirs).

    With samples, the token means are over all samples (they are what was scored), and the greedy
    generation's feasible and optimal rates, token means and `greedy_seconds` sit beside them.
    """
    solved = sum(row["solved"] for row in rows)
    sampled = bool(rows) and "samples" in rows[0]
    counted = [sample for row in rows for sample in row["samples"]] if sampled else rows
    summary = {
        "n": len(rows),
        "solved": solved,
        "accuracy": solved / len(rows) if rows else None,
        "accuracy_interval": list(wilson_interval(solved, len(rows))) if rows else None,  # 95 %
        **token_means(counted),
        "seconds": seconds,
        "examples_per_s": len(rows) / seconds if seconds > 0 else None,
        "seconds_per_solved": seconds / solved if solved else None,
    }
    if counted and all("cut" in g for g in counted):  # the share that ran to max_new_tokens without ending
        summary["cut_share"] = mean(g["cut"] for g in counted)
    if any("grounded_steps" in g for g in counted):
        summary["grounded_steps"] = mean(g["grounded_steps"] for g in counted if g["grounded_steps"] is not None)
    if sampled:
        summary |= {
            "samples_per_example": len(rows[0]["samples"]),
            "greedy_feasible": mean(row["feasible"] for row in rows),
            "greedy_optimal": mean(row["optimal"] for row in rows),
            **token_means(rows, prefix="greedy_"),
            "greedy_seconds": greedy_seconds,
        }
    return summary
