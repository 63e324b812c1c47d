"""GSM8K (Cobbe et al. 2021): grade-school word problems. Rows {"question", "answer"}, the answer being a
worked solution (with <<a*b=c>> calculator notes) that ends in "#### <number>".

Steps are the solution's lines before "####"; the answer is the number, thousands separators dropped.
"""

from __future__ import annotations

from . import loaded
from .loaded import BadRow, Params, lines, text_field
from .math_answers import GSM8K_MARK, gsm8k_answer

NAME = "gsm8k"
SPLITS = {"train": -1, "valid": 200, "test": -1}
__all__ = ["NAME", "SPLITS", "Params", "parse", "generate", "score", "source_checksums"]


def parse(row: dict) -> dict:
    question, solution = text_field(row, "question"), text_field(row, "answer")
    answer = gsm8k_answer(solution)
    if not answer:
        raise BadRow("answer", f"no final '{GSM8K_MARK} <answer>' line")
    steps = lines(solution.rsplit(GSM8K_MARK, 1)[0])
    if not steps:
        raise BadRow("answer", f"no worked solution before '{GSM8K_MARK}'")
    return {"question": question.strip(), "steps": steps, "answer": answer}


generate = loaded.task_generator(NAME, parse)
score = loaded.score
source_checksums = loaded.source_checksums
