"""How a method feeds a test prompt to the model beyond its text, read from the checkpoint's thoughts.json
(each method's `prompting`, methods/):

    pause     N <pause> tokens appended to the prompt
    coconut   <bot> appended; then the stored number of continuous thoughts and <eot>, as embeddings
    softcot   N soft thoughts from the assistant, as embeddings

Those positions are fed, not sampled, but they are what the method spends instead of written reasoning:
the harness counts them as generated tokens and reports them apart (thought_tokens). The settings come
from the checkpoint, never from the evaluation's config, so training and evaluation cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..io import write_json

THOUGHTS_FILE = "thoughts.json"


@dataclass(frozen=True)
class Prompting:
    suffix_ids: tuple[int, ...] = ()  # appended to every prompt's ids
    embed: Callable | None = None  # left-padded (input_ids, attention_mask) -> (inputs_embeds, attention_mask, cache)
    thought_tokens: int = 0  # positions per example the method adds before generating
    parameters: int = 0  # parameters the method runs beside the model (SoftCoT's assistant and projection)


TEXT = Prompting()  # every other mode: the prompt as it is


def write_thoughts(directory: Path, mode: str, thoughts: int, **fields) -> None:
    write_json(Path(directory) / THOUGHTS_FILE, {"mode": mode, "thoughts": thoughts, **fields})


def read_thoughts(directory: Path) -> dict | None:
    path = Path(directory) / THOUGHTS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
