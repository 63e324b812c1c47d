"""The benchmarks: generate records and score completions. One module per task."""

from __future__ import annotations

from types import ModuleType

from ..errors import ConfigError
from . import maze, prontoqa, prosqa

TASKS: dict[str, ModuleType] = {module.NAME: module for module in (prontoqa, prosqa, maze)}


def get_task(name: str) -> ModuleType:
    if name not in TASKS:
        raise ConfigError(f"unknown task '{name}'; choose one of: {', '.join(sorted(TASKS))}")
    return TASKS[name]
