"""The benchmarks: generate (or load) records and score completions. One module per task."""

from __future__ import annotations

from types import ModuleType

from ..errors import ConfigError
from . import competition_math, gsm8k, gsm8k_aug, maze, metamathqa, prontoqa, prosqa

TASKS: dict[str, ModuleType] = {module.NAME: module for module in (prontoqa, prosqa, maze)}  # generated here
# read from a data set (task.params.source), scored by math_answers
LOADED_TASKS: dict[str, ModuleType] = {module.NAME: module for module in (metamathqa, gsm8k, gsm8k_aug, competition_math)}


def get_task(name: str) -> ModuleType:
    known = TASKS | LOADED_TASKS
    if name not in known:
        raise ConfigError(f"unknown task '{name}'; choose one of: {', '.join(sorted(known))}")
    return known[name]
