"""A rough cost of each pipeline stage, in tokens processed, so that the job runner can start the costliest work
first: two workers finish together only if the long jobs do not start last.

Only the order of the jobs depends on these figures, never a result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .data.format import prompt_text, reasoning_text, solution_text
from .data.splits import load_split
from .data.tokenizer import split_words
from .jobs import Stage
from .methods import method_class
from .tasks import get_task
from .tasks.base import is_sampled

# The cost of a token in VQ-VAE training and of a generated token, against one in LM fine-tuning, from the
# throughputs of make eval on the 2-core CPU (docs/measurements.md).
VQVAE_TOKEN, GENERATED_TOKEN = 0.5, 6.0
SAMPLE = 1000


@dataclass(frozen=True)
class TaskShape:
    """Mean words (the word-level tokenizer's) of a training record's prompt, trace and solution as the model reads
    them (data/format.py), and the records."""

    prompt: float
    trace: float
    answer: float
    records: int


def task_shape(cfg) -> TaskShape:
    """The means over the first SAMPLE records (the generators draw records independently): enough to order the
    jobs, at a fraction of the cost of counting a whole split's words."""
    records = load_split(cfg, "train")
    sample = records[:SAMPLE]
    n = max(1, len(sample))

    def mean(texts) -> float:
        return sum(len(split_words(text)) for text in texts) / n

    return TaskShape(
        prompt=mean(map(prompt_text, sample)),
        trace=mean(map(reasoning_text, sample)),
        answer=mean(map(solution_text, sample)),
        records=len(records),
    )


def optimizer_steps(optim, records: int) -> int:
    per_epoch = math.ceil(records / optim.batch_size)
    return min(optim.max_steps or math.inf, optim.epochs * per_epoch)


def stage_cost(stage: Stage, shape: TaskShape) -> float:
    cfg = stage.cfg
    if stage.kind == "vqvae":
        optim = cfg.vqvae.train
        return optimizer_steps(optim, shape.records) * optim.batch_size * (shape.prompt + shape.trace) * VQVAE_TOKEN
    written = shape.answer + method_class(cfg.mode.name).trace_share * shape.trace
    if stage.kind == "finetune":
        return optimizer_steps(cfg.finetune, shape.records) * cfg.finetune.batch_size * (shape.prompt + written)
    if stage.kind == "evaluate":
        problems = cfg.eval.limit or cfg.task.sizes.get("test", 0)
        generations = 1 + (cfg.eval.num_samples if is_sampled(get_task(cfg.task.name)) else 0)
        return problems * generations * written * GENERATED_TOKEN
    return 0.0


def job_cost(stages: list[Stage], shape: TaskShape) -> float:
    return sum(stage_cost(stage, shape) for stage in stages)
