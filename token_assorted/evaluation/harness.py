"""Evaluating a model on records: the protocol of DESIGN §5.

Greedy decoding for every task; for the maze also `num_samples` top-k samples per problem, whose
1-Feasible-k rate is the accuracy. Timing covers generation and scoring, not loading the model: the speed figures
are those of the pass that decides the accuracy (the maze's samples), the greedy pass's time beside them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

from ..data.dataset import encode_batch
from ..data.format import prompt_text
from ..data.tokenizer import check_known_words
from ..errors import DataError
from ..lm.model import own_positions
from ..tasks import get_task
from ..tasks.base import is_sampled
from ..precision import generation_autocast
from .generation import Decoding, generate
from .metrics import one_feasible, score_generation, summarize
from .results import evaluation_file
from .tokens import latent_token_ids

if TYPE_CHECKING:
    from ..thoughts.prompting import Prompting

def encode_prompts(tokenizer, records: Sequence[dict], *, file=None) -> list[list[int]]:
    """The prompt ids training used; a prompt with a word the tokenizer lacks is an error naming its record."""
    prompts = [row["prompt_ids"] for row in encode_batch(tokenizer, list(records))]
    for index, (record, ids) in enumerate(zip(records, prompts)):
        if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
            check_known_words(tokenizer, prompt_text(record), file=file, record=index, field="question")
    return prompts


def check_records(task, records: Sequence[dict], *, file=None) -> None:
    """Records the task could not score are an error naming the first, before any generation."""
    if not hasattr(task, "check"):
        return
    for index, record in enumerate(records):
        try:
            task.check(record)
        except ValueError as err:
            raise DataError(str(err), file=file, record=index, field="question") from None


def generation_budget(
    limit: int | None, prompts: Sequence[Sequence[int]], max_new_tokens: int, *, file=None, extra: int = 0
) -> int:
    """max_new_tokens, cut so the longest prompt (plus `extra` positions fed after it) and its generation fit in
    `limit` positions (Checkpoint.max_positions; None: no limit)."""
    if limit is None:
        return max_new_tokens
    longest = max(range(len(prompts)), key=lambda i: len(prompts[i]))
    if len(prompts[longest]) + extra >= limit:
        raise DataError(
            f"the prompt has {len(prompts[longest]) + extra} positions, no room left in the model's {limit}",
            file=file, record=longest, field="question",
        )
    budget = min(max_new_tokens, limit - len(prompts[longest]) - extra)
    if budget < max_new_tokens:  # reported, not silent: a generation cut short can turn a right answer wrong
        print(f"note: max_new_tokens cut from {max_new_tokens} to {budget}: record {longest} has a "
              f"{len(prompts[longest])}-token prompt and the model has {limit} positions")
    return budget


def evaluate_checkpoint(
    cfg, checkpoint, records: Sequence[dict], *, prompting: Prompting | None = None,
    force_latents: int | None = None, progress: bool = True,
) -> tuple[dict, list[dict]]:
    """evaluate_records with this config's eval settings, and as the checkpoint (evaluation/checkpoint.py) was
    fine-tuned: under its training autocast, within its trained positions, fed its method's `prompting`."""
    with generation_autocast(checkpoint.model.device, checkpoint.training_precision or cfg.trainer.precision):
        return evaluate_records(
            checkpoint.model, checkpoint.tokenizer, cfg.task.name, records,
            max_new_tokens=cfg.task.max_new_tokens, batch_size=cfg.eval.batch_size,
            num_samples=cfg.eval.num_samples, top_k=cfg.eval.top_k, seed=cfg.eval.seed, progress=progress,
            file=evaluation_file(cfg), force_latents=force_latents, code_choice=cfg.eval.code_choice,
            prompting=prompting, max_positions=checkpoint.max_positions,
        )


def evaluate_records(
    model,
    tokenizer,
    task_name: str,
    records: Sequence[dict],
    *,
    max_new_tokens: int,
    batch_size: int = 64,
    num_samples: int = 10,
    top_k: int = 10,
    seed: int = 0,
    progress: bool = True,
    file=None,
    force_latents: int | None = None,
    code_choice: str = "token",
    prompting: Prompting | None = None,
    max_positions: int | None = None,
    draw_samples: bool = True,
) -> tuple[dict, list[dict]]:
    """(summary, one prediction row per record). `file` names the records' file in error messages.
    `draw_samples`: False leaves out the maze's top-k samples, so its accuracy is the greedy plan's feasibility.
    `max_positions`: the most positions a prompt and its generation may take (Checkpoint.max_positions);
    None: the model's own limit.

    `prompting` (token_assorted.thoughts) says what a method feeds after each prompt: pause tokens,
    continuous or soft thoughts. Those positions count as generated tokens, and apart as thought_tokens.
    """
    if not records:
        raise DataError("no records to evaluate", file=file)
    task = get_task(task_name)
    check_records(task, records, file=file)
    suffix = list(prompting.suffix_ids) if prompting else []
    thoughts = prompting.thought_tokens if prompting else 0
    prompts = [ids + suffix for ids in encode_prompts(tokenizer, records, file=file)]
    limit = max_positions or own_positions(model.config)
    budget = generation_budget(limit, prompts, max_new_tokens, file=file, extra=thoughts - len(suffix))
    latent_ids = latent_token_ids(tokenizer)
    options = dict(
        max_new_tokens=budget, batch_size=batch_size, seed=seed, progress=progress, force_latents=force_latents,
        code_choice=code_choice, embed=prompting.embed if prompting else None,
    )

    started = time.perf_counter()
    greedy = generate(model, tokenizer, prompts, desc=f"{task_name} greedy", **options)
    def cut(ids) -> dict:  # the generation ran to its budget without ending
        return {"cut": len(ids) >= budget and (not ids or ids[-1] != tokenizer.eos_token_id)}

    rows = [
        {"index": index, "question": record["question"], "answer": record["answer"],
         **score_generation(task, tokenizer, record, generations[0], latent_ids, thoughts), **cut(generations[0])}
        for index, (record, generations) in enumerate(zip(records, greedy))
    ]
    seconds, greedy_seconds = time.perf_counter() - started, None
    if draw_samples and is_sampled(task):
        started = time.perf_counter()
        decoding, desc = Decoding(top_k=top_k, samples=num_samples), f"{task_name} top-{top_k} x{num_samples}"
        sampled = generate(model, tokenizer, prompts, decoding=decoding, desc=desc, **options)
        for row, record, generations in zip(rows, records, sampled):
            row["samples"] = [
                {**score_generation(task, tokenizer, record, ids, latent_ids, thoughts), **cut(ids)}
                for ids in generations
            ]
        seconds, greedy_seconds = time.perf_counter() - started, seconds
    for row in rows:
        row["solved"] = one_feasible(row["samples"]) if "samples" in row else bool(row["correct"])
    summary = summarize(rows, seconds, greedy_seconds)
    if hasattr(task, "majority_rate"):  # what an answer that ignores the question scores on these records
        summary["majority_rate"] = task.majority_rate(records)
    return summary, rows
