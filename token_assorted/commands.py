"""The command a hint tells the user to run: a stage's module with the overrides of the run that needs it.

Library code names the stage in its error (errors.Remedy); only the command line, here, knows the run's overrides.
"""

from __future__ import annotations

from .errors import Remedy, ToolkitError
from .methods import for_mode


def run_overrides() -> list[str]:
    """This command's own overrides (preset=, data.dir=, out_dir=, ...); none outside a command-line run."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith(("hydra", "pipeline."))]


def stage_command(remedy: Remedy) -> str:
    """`python -m token_assorted.<module> task=<task> <settings> <this run's other overrides>`: run as written, it
    writes where this run reads (a hint without the run's preset or out_dir would write somewhere else)."""
    chosen = dict(setting.split("=", 1) for setting in remedy.given())
    kept = [o for o in run_overrides() if o.lstrip("+~").split("=", 1)[0] not in chosen]
    kept = for_mode(kept, chosen.get("mode", remedy.mode))  # the command refuses the keys its mode ignores
    return remedy.command(kept)


def with_run_overrides(err: ToolkitError) -> ToolkitError:
    """`err` with its remedy's command completed by this run's overrides."""
    if err.remedy is not None:
        err.command = stage_command(err.remedy)
    return err
