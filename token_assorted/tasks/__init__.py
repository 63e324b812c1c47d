"""The benchmarks: generate (or load) records and score completions. One module per task."""

from __future__ import annotations

from types import ModuleType

from ..errors import ConfigError
from . import competition_math, gsm8k, gsm8k_aug, maze, metamathqa, prontoqa, prosqa

GENERATED = (prontoqa, prosqa, maze)
LOADED = (metamathqa, gsm8k, gsm8k_aug, competition_math)  # read from a data set: task.params.source
TASKS: dict[str, ModuleType] = {module.NAME: module for module in (*GENERATED, *LOADED)}


def get_task(name: str) -> ModuleType:
    if name not in TASKS:
        raise ConfigError(f"unknown task '{name}'; choose one of: {', '.join(sorted(TASKS))}")
    return TASKS[name]
