"""The whole job behind `make eval`: for each task, data → VQ-VAE → fine-tune each method → evaluate → report.

    python -m token_assorted.pipeline                                  every task and method, default preset
    python -m token_assorted.pipeline preset=quick 'pipeline.tasks=[prosqa]' 'pipeline.methods=[cot]'
    python -m token_assorted.pipeline 'pipeline.methods=[all]'        every method: sol-only, cot, random-replace,
                                                                       pause, icot, coconut, softcot
    python -m token_assorted.pipeline 'pipeline.methods=[all,ablations]'   every mode

A stage whose outputs are current (its meta.json records the identity the stage has now: identity.py) is reused,
so an interrupted run picks up where it stopped and a finished one only prints the report again.
Independent jobs (each task's VQ-VAE; each method's fine-tune and evaluation) run `pipeline.workers` at a
time, each in its own process, its output in <out_dir>/logs/ (jobs.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from hydra import compose
from hydra.core.hydra_config import HydraConfig

from . import evaluate, finetune, generate_data, train_vqvae
from .cli import hydra_main
from .data.splits import splits_are_current
from .errors import ConfigError
from .evaluation.report import provenance, write_report
from .evaluation.results import RESULTS, eval_root, evaluation_dir
from .job_costs import job_cost, task_shape
from .jobs import Job, Stage, run_jobs, run_stages
from .layout import Layout
from .lm.base import base_config
from .methods import GROUPS, expand, for_mode, method_class, mode_key, uses_vqvae
from .vqvae.checkpoint import token_accuracy


def stage_config(overrides: list[str], **groups: str):
    """The config a stage command would see: the user's overrides plus this stage's task and mode."""
    chosen = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in groups]
    # a key of another method's, which this one ignores; a stage of no method (data, VQ-VAE) reads none
    chosen = for_mode(chosen, groups["mode"]) if "mode" in groups else [o for o in chosen if mode_key(o) is None]
    return compose(config_name="config", overrides=[*chosen, *(f"{g}={v}" for g, v in groups.items())])


def check_names(overrides: list[str], tasks: list[str], methods: list[str]) -> None:
    """Every task and method names a config, checked before any work: not after the first task's data is made."""
    from .cli import override_problem

    for key, group, names in (("pipeline.tasks", "task", tasks), ("pipeline.methods", "mode", methods)):
        for name in names:
            given = for_mode(overrides, name) if group == "mode" else [o for o in overrides if mode_key(o) is None]
            problem = override_problem([*given, f"{group}={name}"])
            if problem:
                groups = f"; or a group of them: {', '.join(GROUPS)}" if group == "mode" else ""
                raise ConfigError(f"{key}: {problem}{groups}")


def prepare_task(overrides: list[str], task: str) -> None:
    """Data and tokenizer first, in this process: every job of the task reads them."""
    from .data import get_tokenizer

    cfg = stage_config(overrides, task=task)
    if not splits_are_current(cfg):
        run_stages(Job(task, [Stage(f"{task}: generate data", generate_data.run, cfg, "data")]), progress=True)
    get_tokenizer(cfg, progress=False)


def prerequisite_stages(overrides: list[str], task: str, stage, planned: list[Job]) -> tuple[list[Stage], tuple]:
    """The models a method needs made before its fine-tune (methods' `prerequisites`: SoftCoT's frozen LMs), each
    trained only where it is not current, or the planned job of this run that makes it to wait for."""
    stages, after = [], ()
    for needed in method_class(stage.mode.name).prerequisites(stage):
        if needed.job in {job.name for job in planned}:
            after += (needed.job,)
        elif not finetune.is_current(made := stage_config(overrides, task=task, **needed.groups)):
            stages.append(Stage(f"{task}/{made.mode.name} ({needed.label}): fine-tune", finetune.run, made, "finetune"))
    return stages, after


def plan_task(overrides: list[str], task: str, methods: list[str], evaluation: bool = True) -> list[Job]:
    """The jobs that bring a task's outputs up to date: its VQ-VAE and base model, then for each method fine-tune
    and evaluate."""
    cfg = stage_config(overrides, task=task)
    jobs = []
    vqvae_job, base_job = f"{task}/vqvae", f"{task}/base"
    stages_of = {method: stage_config(overrides, task=task, mode=method) for method in methods}
    trains_vqvae = any(map(uses_vqvae, stages_of.values())) and not train_vqvae.is_current(cfg)
    if trains_vqvae:
        jobs.append(Job(vqvae_job, [Stage(f"{task}: train VQ-VAE", train_vqvae.run, cfg, "vqvae")]))
    base = base_config(cfg)
    trains_base = any(stage.base.use for stage in stages_of.values()) and not finetune.is_current(base)
    if trains_base:
        jobs.append(Job(base_job, [Stage(f"{task}: train base model", finetune.run, base, "finetune")]))
    for method, stage in stages_of.items():
        after = (vqvae_job,) if trains_vqvae and uses_vqvae(stage) else ()
        stages, waits = prerequisite_stages(overrides, task, stage, jobs)
        after += waits
        if trains_base and stage.base.use:
            after += (base_job,)
        if stages or after or not finetune.is_current(stage):
            stages.append(Stage(f"{task}/{method}: fine-tune", finetune.run, stage, "finetune"))
        if evaluation and (stages or not evaluate.is_current(stage)):
            stages.append(Stage(f"{task}/{method}: evaluate", evaluate.run, stage, "evaluate"))
        if stages:
            jobs.append(Job(f"{task}/{method}", stages, after=after))
    if jobs:  # only then is the split read to estimate what each job costs
        shape = task_shape(cfg)
        for job in jobs:
            job.cost = job_cost(job.stages, shape)
    return jobs


def train_task(overrides: list[str], task: str, methods: list[str], workers: int = 1, log_dir: Path = Path(".")) -> None:
    """Data, VQ-VAE and a fine-tuned model per method, each made only where it is not current."""
    prepare_task(overrides, task)
    run_jobs(plan_task(overrides, task, methods, evaluation=False), workers, log_dir)


def with_other_current_evaluations(results: dict, overrides: list[str], out_dir) -> dict:
    """`results` and the other evaluations under out_dir that are current under these overrides, so that a run on
    some tasks or methods adds to the report rather than replacing it. Tasks in name order, methods as in
    `pipeline.methods=[all,ablations]`."""
    from hydra.errors import MissingConfigException

    merged = {task: dict(runs) for task, runs in results.items()}
    for path in eval_root(out_dir).glob(f"*/*/{RESULTS}"):
        task, method = path.parent.parent.name, path.parent.name
        if method in merged.get(task, {}):
            continue  # this run's own
        try:
            cfg = stage_config(overrides, task=task, mode=method)
        except MissingConfigException:
            continue  # a folder that names no task or mode
        if evaluate.is_current(cfg):
            merged.setdefault(task, {})[method] = json.loads(path.read_text(encoding="utf-8"))
    order = expand(["all", "ablations"])

    def place(item) -> int:
        return order.index(item[0]) if item[0] in order else len(order)

    return {task: dict(sorted(merged[task].items(), key=place)) for task in sorted(merged)}


def run(cfg, overrides: list[str] | None = None) -> dict:
    """Run every stage that is not current, then write and print the report. Returns {task: {mode: results}}."""
    if overrides is None:
        overrides = list(HydraConfig.get().overrides.task)
    start = time.perf_counter()
    tasks, methods = list(cfg.pipeline.tasks), expand(cfg.pipeline.methods)
    check_names(overrides, tasks, methods)
    for task in tasks:
        prepare_task(overrides, task)
    jobs = [job for task in tasks for job in plan_task(overrides, task, methods)]
    run_jobs(jobs, cfg.pipeline.workers, Layout(Path(cfg.out_dir), "").logs())
    results = {task: {} for task in tasks}
    for task in tasks:
        for method in methods:
            stage = stage_config(overrides, task=task, mode=method)
            results[task][method] = json.loads((evaluation_dir(stage) / RESULTS).read_text(encoding="utf-8"))
            if uses_vqvae(stage):  # what the codes it reads keep of a trace bounds what it can learn from them
                results[task][method]["vqvae_token_accuracy"] = token_accuracy(stage)
    about = provenance(time.perf_counter() - start)
    table, paths = write_report(with_other_current_evaluations(results, overrides, cfg.out_dir), cfg.out_dir, about)
    print("\n" + table)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    print(f"pipeline wall time {about['wall_seconds']} s")
    return results


main = hydra_main(run, reads=("pipeline", "task.sizes", "task.params", "data.dir", "model", "base", "finetune", "vqvae",
                             "eval", "trainer"),
                  modes=lambda cfg: expand(cfg.pipeline.methods), config_name="every_method",
                  tasks=lambda cfg: cfg.pipeline.tasks)


if __name__ == "__main__":
    main()
