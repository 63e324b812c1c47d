"""The whole job behind `make eval`: for each task, data → VQ-VAE → fine-tune each method → evaluate → report.

    python -m token_assorted.pipeline                                  every task and method, default preset
    python -m token_assorted.pipeline preset=quick 'pipeline.tasks=[prosqa]' 'pipeline.methods=[cot]'
    python -m token_assorted.pipeline 'pipeline.methods=[all]'        every mode, the related methods included

A stage whose outputs are current (its meta.json records the same settings and inputs as now) is reused,
so an interrupted run picks up where it stopped and a finished one only prints the report again.
"""

from __future__ import annotations

import json
import time

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from . import evaluate, finetune, generate_data, train_vqvae
from .cli import hydra_main
from .data.splits import splits_are_current, task_dir
from .errors import StaleInputError
from .evaluation.report import write_report
from .evaluation.results import RESULTS, eval_dir
from .io import META, read_meta, sha256
from .latent import MODES, needs_codes
from .lm import finetune_dir

# The settings each stage's outputs depend on; a change to any of them makes the stage run again.
FINETUNE_SETTINGS = ("task", "data", "model", "mode", "finetune", "seed")
EVAL_SETTINGS = ("task", "data", "model", "mode", "finetune", "eval", "seed")


def stage_config(overrides: list[str], **groups: str):
    """The config a stage command would see: the user's overrides plus this stage's task and mode."""
    chosen = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in groups]
    return compose(config_name="config", overrides=[*chosen, *(f"{g}={v}" for g, v in groups.items())])


def with_defaults(recorded: dict) -> dict:
    """A recorded config with the settings added to the schema since at their defaults, which keep the old
    behaviour (so adding a setting does not make every earlier run stale); as recorded if it no longer fits."""
    from omegaconf.errors import OmegaConfBaseException

    from .config import Config

    try:
        return OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(Config), recorded), resolve=True)
    except OmegaConfBaseException:
        return recorded


def settings(cfg, sections) -> dict:
    config = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else with_defaults(cfg)
    return {section: config.get(section) for section in sections}


def recorded(directory) -> dict | None:
    try:
        return read_meta(directory)
    except StaleInputError:
        return None


def vqvae_is_current(cfg) -> bool:
    from .data import get_tokenizer
    from .vqvae.checkpoint import checked_meta

    try:
        checked_meta(cfg, get_tokenizer(cfg, progress=False))
        return True
    except StaleInputError:
        return False


def expand_methods(methods) -> list[str]:
    """The methods to run, `all` standing for every mode (in MODES order, so cot comes before softcot)."""
    expanded = [name for method in methods for name in (MODES if method == "all" else [method])]
    return list(dict.fromkeys(expanded))


def finetune_is_current(cfg) -> bool:
    meta = recorded(finetune_dir(cfg))
    if meta is None or settings(meta["config"], FINETUNE_SETTINGS) != settings(cfg, FINETUNE_SETTINGS):
        return False
    if meta["inputs"].get("train") != sha256(task_dir(cfg) / "train.json"):
        return False
    if cfg.mode.name == "softcot":
        from .thoughts.softcot import softcot_inputs

        return all(meta["inputs"].get(name) == checksum for name, checksum in softcot_inputs(cfg).items())
    if needs_codes(cfg.mode.name):
        from .vqvae.checkpoint import model_dir

        return meta["inputs"].get("vqvae") == sha256(model_dir(cfg))
    return True


def evaluation_is_current(cfg) -> bool:
    directory = eval_dir(cfg.out_dir, cfg.task.name, cfg.mode.name)
    meta = recorded(directory)
    if meta is None or not (directory / RESULTS).exists():
        return False
    checkpoint = finetune_dir(cfg) / META
    return (
        settings(meta["config"], EVAL_SETTINGS) == settings(cfg, EVAL_SETTINGS)
        and meta["inputs"].get("checkpoint") == sha256(checkpoint)
    )


def timed(label: str, step, *args):
    start = time.perf_counter()
    print(f"\n=== {label}", flush=True)
    result = step(*args)
    print(f"=== {label}: {time.perf_counter() - start:.0f} s", flush=True)
    return result


def softcot_models(overrides: list[str], task: str, stage) -> None:
    """Train SoftCoT's frozen models where they are this toolkit's: the cot main LM and the smaller assistant."""
    from .thoughts.softcot import assistant_out_dir

    needed = []
    if not stage.mode.main:
        needed.append(("SoftCoT main LM", stage_config(overrides, task=task, mode="cot")))
    if not stage.mode.assistant:
        helper = stage_config(overrides, task=task, mode="cot", model=stage.mode.assistant_model,
                              out_dir=str(assistant_out_dir(stage)))
        needed.append(("SoftCoT assistant LM", helper))
    for label, helper in needed:
        if not finetune_is_current(helper):
            timed(f"{task}/cot ({label}): fine-tune", finetune.run, helper)


def run_task(overrides: list[str], task: str, methods: list[str]) -> None:
    cfg = stage_config(overrides, task=task)
    if not splits_are_current(cfg):
        timed(f"{task}: generate data", generate_data.run, cfg)
    if any(needs_codes(method) for method in methods) and not vqvae_is_current(cfg):
        timed(f"{task}: train VQ-VAE", train_vqvae.run, cfg)
    for method in methods:
        stage = stage_config(overrides, task=task, mode=method)
        if method == "softcot":
            softcot_models(overrides, task, stage)
        if not finetune_is_current(stage):
            timed(f"{task}/{method}: fine-tune", finetune.run, stage)
        if not evaluation_is_current(stage):
            timed(f"{task}/{method}: evaluate", evaluate.run, stage)


def run(cfg, overrides: list[str] | None = None) -> dict:
    """Run every stage that is not current, then write and print the report. Returns {task: {mode: results}}."""
    if overrides is None:
        overrides = list(HydraConfig.get().overrides.task)
    start = time.perf_counter()
    tasks, methods = list(cfg.pipeline.tasks), expand_methods(cfg.pipeline.methods)
    for task in tasks:
        run_task(overrides, task, methods)
    results = {task: {} for task in tasks}
    for task in tasks:
        for method in methods:
            path = eval_dir(cfg.out_dir, task, method) / RESULTS
            results[task][method] = json.loads(path.read_text(encoding="utf-8"))
    table, paths = write_report(results, cfg.out_dir)
    print("\n" + table)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    print(f"pipeline wall time {time.perf_counter() - start:.0f} s")
    return results


main = hydra_main(run)


if __name__ == "__main__":
    main()
