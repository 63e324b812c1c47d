"""Inference per task: the baseline (CoT) and the method (random-replace) on the same test problems, pair by pair,
and the latency-accuracy curve of the method under `eval.force_latents=k`.

Both models come from the pipeline's fine-tuning stage (outputs/finetune/<task>/<mode>), so they were trained the
same way; they are evaluated with the evaluation protocol (evaluation/harness.py), batched with a KV cache.
"""

from __future__ import annotations

from ..data.splits import load_split
from ..evaluation.checkpoint import load_checkpoint
from ..evaluation.harness import evaluate_checkpoint
from ..methods import method_for, prompting_for
from ..precision import device_for
from .measure import measured, ratio, spread

FIGURES = ("accuracy", "generated_tokens", "latent_tokens", "seconds_per_problem", "seconds_per_solved", "peak_mb")
RATIOS = ("generated_tokens", "seconds_per_problem", "seconds_per_solved", "peak_mb")


def one_run(cfg, model: tuple, records, device, force_latents: int | None = None) -> dict:
    """One timed evaluation of `records` by `model` (its checkpoint and prompting), as `evaluate` runs it: the
    figures of FIGURES. The times are the evaluation's own, of the pass that decides the accuracy (the maze's
    samples, not its greedy pass)."""
    checkpoint, prompting = model
    with measured(device) as cost:
        summary, _ = evaluate_checkpoint(
            cfg, checkpoint, records, prompting=prompting, force_latents=force_latents, progress=False)
    return {
        "accuracy": summary["accuracy"],
        "generated_tokens": summary["generated_tokens"],
        "latent_tokens": summary["latent_tokens"],
        "seconds_per_problem": summary["seconds"] / summary["n"],
        "seconds_per_solved": summary["seconds_per_solved"],
        "peak_mb": cost["peak_mb"],
    }


def loaded(cfg, device) -> tuple:
    """The model of a stage as `evaluate` loads it: (checkpoint, prompting)."""
    checkpoint = load_checkpoint(cfg, device)
    return checkpoint, prompting_for(checkpoint, device)


def compare(stages: dict, repeats: int, problems: int | None) -> dict:
    """{baseline: figures, method: figures, "ratio": method / baseline}, each figure median/min/max over repeats.
    Each repeat runs both models back to back (in alternating order) and takes its ratio from that pair."""
    (base, base_cfg), (method, method_cfg) = stages.items()
    device = device_for(base_cfg.trainer.accelerator)
    models = {mode: loaded(stages[mode], device) for mode in (base, method)}
    records = load_split(base_cfg, "test")[:problems]
    runs: dict[str, list[dict]] = {base: [], method: []}
    for repeat in range(repeats):
        for mode in (base, method) if repeat % 2 == 0 else (method, base):
            runs[mode].append(one_run(stages[mode], models[mode], records, device))
    result = {mode: {f: spread(run[f] for run in runs[mode]) for f in FIGURES} for mode in runs}
    result["ratio"] = {
        f: spread(ratio(m[f], b[f]) for b, m in zip(runs[base], runs[method])) for f in RATIOS
    }
    result["problems"] = len(records)
    result["device"] = str(device)
    return result


def most_codes_in_training(cfg) -> int:
    """The most latent codes a training sample of the method held: a whole trace's codes, or the method's cap."""
    from ..vqvae.checkpoint import load_vqvae
    from ..vqvae.codes import load_codes

    codes = max(len(row) for row in load_codes(cfg, "train"))
    if (cap := method_for(cfg.mode).replaced_cap()) is not None:
        vqvae = load_vqvae(cfg)
        codes = min(codes, cap // vqvae.chunk_size * vqvae.codes_per_chunk)
    return codes


def curve_points(most: int, points: int) -> list[int]:
    """`points` values of k from 0 to `most`, evenly spread, without repeats."""
    if points <= 1 or most == 0:
        return [0]
    return sorted({round(i * most / (points - 1)) for i in range(points)})


def latency_accuracy(cfg, repeats: int, problems: int | None, points: int) -> list[dict]:
    """Accuracy, generated tokens and time per problem of the method when made to open with k codes."""
    device = device_for(cfg.trainer.accelerator)
    model = loaded(cfg, device)
    records = load_split(cfg, "test")[:problems]
    curve = []
    for k in curve_points(most_codes_in_training(cfg), points):
        runs = [one_run(cfg, model, records, device, force_latents=k) for _ in range(repeats)]
        curve.append({"k": k, **{f: spread(run[f] for run in runs) for f in FIGURES}})
    return curve
