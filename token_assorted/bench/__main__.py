"""Measure speed, memory and growth, CoT beside Token Assorted; what `make bench` runs.

    python -m token_assorted.bench                          the default preset's models (trained where missing)
    python -m token_assorted.bench preset=quick 'bench.tasks=[prosqa]' bench.repeats=5

The models are the pipeline's (<out_dir>/finetune/<task>/<mode>): those `make eval` trained are reused, missing
ones are trained through the pipeline first. Writes <out_dir>/bench/results.json, report.md and plots.
"""

from __future__ import annotations

import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from ..cli import hydra_main
from ..layout import Layout
from ..pipeline import stage_config, train_task
from ..precision import bf16_where_fast, cpu_bf16_units, cpu_name
from . import report


def timed(label: str, step, *args):
    start = time.perf_counter()
    print(f"=== bench: {label}", flush=True)
    result = step(*args)
    print(f"=== bench: {label}: {time.perf_counter() - start:.0f} s", flush=True)
    return result


def machine(cfg) -> str:
    """Where the figures come from: bf16's speedup on a CPU hangs on whether it has bf16 arithmetic."""
    import torch

    name = cpu_name()
    gpu = f"CUDA {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "no GPU"
    return (f"{name} ({torch.get_num_threads()} threads, CPU bf16 arithmetic: {', '.join(cpu_bf16_units()) or 'none'}),"
            f" {gpu}; trainer.precision {cfg.trainer.precision}.")


def run(cfg, overrides: list[str] | None = None) -> dict:
    # torch loads here, not with the module: --help answers without it
    from .growth import growth
    from .inference import compare, latency_accuracy
    from .training import finetune_precisions, gpu_mfu, vqvae_speed

    if overrides is None:
        overrides = list(HydraConfig.get().overrides.task)
    start = time.perf_counter()
    b = cfg.bench
    modes = [b.baseline, b.method]
    for task in b.tasks:
        train_task(overrides, task, modes)
    stages = {task: {mode: stage_config(overrides, task=task, mode=mode) for mode in modes} for task in b.tasks}

    results = {
        "baseline": b.baseline, "method": b.method, "repeats": b.repeats, "preset": cfg.preset,
        "code_choice": cfg.eval.code_choice,
        "where": machine(cfg),
        "inference": {}, "curve": {},
    }
    for task in b.tasks:
        problems = stages[task][b.baseline].bench.problems  # a task may set its own (conf/task/maze.yaml)
        results["inference"][task] = timed(f"{task} inference", compare, stages[task], b.repeats, problems)
    first = b.tasks[0]
    base, method = stages[first][b.baseline], stages[first][b.method]
    # Without bf16 arithmetic (an AVX2 CPU) a bf16 step runs many times slower: the preset's model shows that cost on
    # a few batches, and the VQ-VAE and the large model, whose bf16 steps would then take most of the bench's time,
    # run in fp32 alone.
    fast_bf16 = bf16_where_fast(cfg.trainer.accelerator).startswith("bf16")
    training = timed(f"{first} fine-tuning fp32/bf16", finetune_precisions, base, b.repeats, b.train_steps,
                     b.train_steps if fast_bf16 else b.slow_bf16_steps)
    precisions = "fp32/bf16" if fast_bf16 else "fp32"
    training |= timed(f"{first} VQ-VAE speed {precisions}", vqvae_speed, method, b.repeats, b.train_steps,
                      b.encode_records, fast_bf16)
    if b.large_model:
        large = stage_config([*overrides, f"model={b.large_model}", f"finetune.batch_size={b.large_model_batch}"],
                             task=first, mode=b.baseline)
        speed = timed(f"{first} {b.large_model} {precisions}", finetune_precisions, large, b.repeats,
                      b.large_model_steps, b.large_model_steps if fast_bf16 else 0)
        training["large_model"] = {"model": b.large_model, "batch_size": b.large_model_batch, **speed}
    gpt2 = stage_config([*overrides, "model=gpt2-small"], task=first, mode=b.baseline)
    training["gpu"] = timed("GPU MFU", gpu_mfu, cfg, gpt2, b.repeats, b.train_steps)
    results["training"] = training
    results["growth"] = timed(f"{first} growth", growth, base, b.repeats, b.growth_records,
                              list(b.growth_scales))
    for task in b.tasks:
        method_cfg = stages[task][b.method]
        results["curve"][task] = timed(f"{task} latency-accuracy", latency_accuracy, method_cfg,
                                       b.repeats, method_cfg.bench.problems, b.curve_points)
    results["seconds"] = round(time.perf_counter() - start, 1)
    text, paths = report.write(results, Layout(Path(cfg.out_dir), "").bench())
    print("\n" + text)
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {results['seconds']:.0f} s")
    return results


main = hydra_main(run, reads=("bench", "model", "vqvae", "finetune", "trainer"),
                  modes=lambda cfg: [cfg.bench.baseline, cfg.bench.method], config_name="every_method",
                  tasks=lambda cfg: cfg.bench.tasks)

if __name__ == "__main__":
    main()
