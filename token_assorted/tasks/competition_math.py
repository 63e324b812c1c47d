"""MATH (Hendrycks et al. 2021): competition problems with LaTeX solutions whose final answer is in \\boxed{}.
Rows {"problem", "solution", optional "level", "type"}.

Steps are the solution's lines (the boxed expression stays in the last one); the answer is the contents of
the last \\boxed{} as written, compared by math_answers.answers_match at evaluation.
"""

from __future__ import annotations

from . import loaded
from .loaded import BadRow, Params, lines, text_field
from .math_answers import last_boxed

NAME = "math"
SPLITS = {"train": -1, "valid": 200, "test": -1}
EXTRAS = ("level", "type", "subject", "unique_id")
__all__ = ["NAME", "SPLITS", "Params", "parse", "generate", "score", "source_checksums"]


def parse(row: dict) -> dict:
    problem, solution = text_field(row, "problem"), text_field(row, "solution")
    answer = last_boxed(solution)
    if answer is None or not answer.strip():
        raise BadRow("solution", "no \\boxed{...} answer")
    record = {"question": problem.strip(), "steps": lines(solution), "answer": answer.strip()}
    return record | {key: row[key] for key in EXTRAS if key in row}


generate = loaded.task_generator(NAME, parse)
score = loaded.score
source_checksums = loaded.source_checksums
