"""How a record becomes text: question, reasoning trace and solution (Coconut's layout).

    question + "\n" + "\n".join(steps) + "\n### " + answer + eos

The three parts are tokenized separately so that latent tokens can go between prompt and reasoning.
"""

from __future__ import annotations

from ..tasks.base import extract_answer

ANSWER_MARK = "### "


def prompt_text(record: dict) -> str:
    return record["question"] + "\n"


def reasoning_text(record: dict) -> str:
    return "".join(step + "\n" for step in record["steps"])


def solution_text(record: dict) -> str:
    return ANSWER_MARK + record["answer"]


def sequence_text(record: dict) -> str:
    return prompt_text(record) + reasoning_text(record) + solution_text(record)


__all__ = ["ANSWER_MARK", "extract_answer", "prompt_text", "reasoning_text", "sequence_text", "solution_text"]
