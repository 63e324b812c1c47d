"""MetaMathQA (Yu et al. 2024): 395 k GSM8K and MATH questions, rephrased and augmented, with worked responses
ending in "The answer is: <answer>". Rows {"query", "response", optional "type", "original_question"}.

Steps are the response's lines before "The answer is:" (a GSM8K-style "#### n" line dropped); the answer is
the text after it. The paper trains on it and tests on GSM8K and MATH: evaluate with
data.test_file=<the gsm8k or math task's test.json>.
"""

from __future__ import annotations

from . import loaded
from .loaded import BadRow, Params, lines, text_field
from .math_answers import GSM8K_MARK, METAMATH_MARK, metamath_answer

NAME = "metamathqa"
SPLITS = {"train": -1, "valid": 500, "test": 500}
__all__ = ["NAME", "SPLITS", "Params", "parse", "generate", "score", "source_checksums"]


def parse(row: dict) -> dict:
    query, response = text_field(row, "query"), text_field(row, "response")
    answer = metamath_answer(response)
    if not answer:
        raise BadRow("response", f"no final '{METAMATH_MARK} <answer>'")
    steps = [step for step in lines(response.rsplit(METAMATH_MARK, 1)[0]) if not step.startswith(GSM8K_MARK)]
    if not steps:
        raise BadRow("response", f"no worked solution before '{METAMATH_MARK}'")
    record = {"question": query.strip(), "steps": steps, "answer": answer}
    return record | ({"type": row["type"]} if "type" in row else {})


generate = loaded.task_generator(NAME, parse)
score = loaded.score
source_checksums = loaded.source_checksums
