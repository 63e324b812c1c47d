"""The command a hint tells the user to run: a stage's module with the overrides of the run that needs it."""

from __future__ import annotations

import shlex

from .config import for_mode


def run_overrides() -> list[str]:
    """This command's own overrides (preset=, data.dir=, out_dir=, ...); none outside a command-line run."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith(("hydra", "pipeline."))]


def stage_command(module: str, cfg, *settings: str) -> str:
    """`python -m token_assorted.<module> task=<task> <settings> <this run's other overrides>`: run as written, it
    writes where this run reads (a hint without the run's preset or out_dir would write somewhere else)."""
    given = [f"task={cfg.task.name}", *settings]
    chosen = dict(setting.split("=", 1) for setting in given)
    kept = [o for o in run_overrides() if o.lstrip("+~").split("=", 1)[0] not in chosen]
    kept = for_mode(kept, chosen.get("mode", cfg.mode.name))  # the command refuses the keys its mode ignores
    if not any(o.startswith("preset=") for o in kept) and cfg.preset != "default":
        kept.insert(0, f"preset={cfg.preset}")  # called outside a command-line run, or with preset= set elsewhere
    return " ".join([f"python -m token_assorted.{module}", *map(shlex.quote, [*given, *kept])])  # as typed in a shell
