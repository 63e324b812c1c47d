"""GSM8K-Aug (Deng et al., iCoT): GSM8K with equation-only traces, one problem per line of a text file:

    question||<<a=b>> <<c=d>> #### answer

Steps are the <<...>> equations, as Coconut uses them; the answer is the text after "####".
A JSON/JSONL/parquet source with a "line" field per row is read the same way.
"""

from __future__ import annotations

import re

from . import loaded
from .loaded import BadRow, Params, text_field
from .math_answers import GSM8K_MARK, gsm8k_answer

NAME = "gsm8k-aug"
SPLITS = {"train": -1, "valid": 500, "test": -1}
SEPARATOR = "||"
EQUATION = re.compile(r"<<[^<>]*>>")
__all__ = ["NAME", "SPLITS", "Params", "parse", "generate", "score", "source_checksums"]


def parse(row: dict) -> dict:
    line = text_field(row, "line")
    if SEPARATOR not in line:
        raise BadRow("line", f"no '{SEPARATOR}' between the question and the trace")
    question, trace = line.split(SEPARATOR, 1)
    if not question.strip():
        raise BadRow("line", "empty question")
    answer = gsm8k_answer(trace)
    if not answer:
        raise BadRow("line", f"no final '{GSM8K_MARK} <answer>'")
    steps = EQUATION.findall(trace.rsplit(GSM8K_MARK, 1)[0])
    if not steps:
        raise BadRow("line", "no <<...>> equations before the answer")
    return {"question": question.strip(), "steps": steps, "answer": answer}


generate = loaded.task_generator(NAME, parse)
score = loaded.score
source_checksums = loaded.source_checksums
