"""Pause tokens (Goyal et al., 2023): P ⊕ <pause> × N ⊕ S.

The pauses give the model N extra positions to compute in before it answers. The loss skips them (the
model is fed pauses, never asked to produce them); at evaluation the same N pauses follow each prompt.
"""

from __future__ import annotations

from .example import IGNORE, Example

PAUSE = "<pause>"


def pause_example(row: dict, pause_id: int, count: int) -> Example:
    prompt, solution = list(row["prompt_ids"]), list(row["solution_ids"])
    pauses = [pause_id] * count
    return Example(prompt + pauses + solution, [IGNORE] * (len(prompt) + count) + solution)
