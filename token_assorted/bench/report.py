"""The bench's outputs: results.json, report.md (printed too) and the plots, under <out_dir>/bench/."""

from __future__ import annotations

from pathlib import Path

from ..config import POOLED_LABEL
from ..io import atomic_path, write_json, write_text


def fmt(figure: dict | None, digits: int = 3) -> str:
    """median [min, max]"""
    if not figure or figure.get("median") is None:
        return "-"
    return f"{figure['median']:.{digits}g} [{figure['min']:.{digits}g}, {figure['max']:.{digits}g}]"


def markdown(results: dict) -> str:
    lines = ["# Bench", "", f"Each figure: median [min, max] of {results['repeats']} runs. {results['where']}", ""]
    if results.get("code_choice") == "pooled":
        lines[-1:-1] = [POOLED_LABEL.capitalize() + "."]
    lines += ["## Inference (method / baseline ratios taken pair by pair)", ""]
    lines += ["| task | model | accuracy | generated tokens | s / problem | s / solved | peak MB |", "|---|---|---|---|---|---|---|"]
    for task, figures in results["inference"].items():
        ratio = f"ratio {results['method']} / {results['baseline']}"
        for model in (results["baseline"], results["method"], "ratio"):
            f = figures[model]
            lines.append(
                f"| {task} | {model if model != 'ratio' else ratio} | {fmt(f.get('accuracy'))} | "
                f"{fmt(f['generated_tokens'])} | {fmt(f['seconds_per_problem'])} | {fmt(f['seconds_per_solved'])} | "
                f"{fmt(f['peak_mb'])} |"
            )
    t = results["training"]
    lines += ["", "## Training", "", "| figure | value |", "|---|---|"]
    lines += [f"| {key} | {fmt(value)} |" for key, value in t.items() if isinstance(value, dict) and "median" in value]
    lines.append(f"| bf16 timed on | the first {t['bf16_steps']} batches (fp32: all) |")
    if not t["vqvae_bf16_speedup"]["runs"]:
        lines.append("| VQ-VAE: bf16 | not measured: no bf16 arithmetic here |")
    if t.get("large_model"):
        large = t["large_model"]
        lines += [f"| {large['model']} (batch {large['batch_size']}): {key} | {fmt(large[key])} |"
                  for key in ("finetune_tokens_per_s_fp32", "finetune_tokens_per_s_bf16", "bf16_speedup")]
        if not large["bf16_speedup"]["runs"]:
            lines.append(f"| {large['model']}: bf16 | not measured: no bf16 arithmetic here |")
    if t.get("gpu"):
        g = t["gpu"]
        lines += [f"| GPT-2 small bf16 tokens/s ({g['device']}) | {fmt(g['gpt2_small_tokens_per_s_bf16'])} |",
                  f"| GPT-2 small MFU (peak {g['peak_tflops']} TFLOP/s) | {fmt(g['mfu'])} |"]
    lines += ["", "## Growth (time ~ records^b)", "", "| stage | records | seconds | peak MB | b (time) |", "|---|---|---|---|---|"]
    for stage, g in results["growth"].items():
        for i, records in enumerate(g["records"]):
            b = f"{g['time_exponent']:.2f}" if i == 0 and g["time_exponent"] is not None else ""
            lines.append(f"| {stage} | {records} | {fmt(g['seconds'][i])} | {fmt(g['peak_mb'][i])} | {b} |")
    lines += ["", "## Latency-accuracy (eval.force_latents=k, method)", "", "| task | k | accuracy | generated tokens | s / problem |", "|---|---|---|---|---|"]
    for task, curve in results["curve"].items():
        for point in curve:
            lines.append(f"| {task} | {point['k']} | {fmt(point['accuracy'])} | {fmt(point['generated_tokens'])} | "
                         f"{fmt(point['seconds_per_problem'])} |")
    return "\n".join(lines) + "\n"


def errorbar(axis, x, figures, **style):
    medians = [f["median"] if f["median"] is not None else float("nan") for f in figures]
    low = [m - f["min"] if f["median"] is not None else 0 for m, f in zip(medians, figures)]
    high = [f["max"] - m if f["median"] is not None else 0 for m, f in zip(medians, figures)]
    axis.errorbar(x, medians, yerr=[low, high], capsize=3, marker="o", **style)


def plots(results: dict, directory: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {}
    tasks = list(results["inference"])
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for offset, model in ((-0.15, results["baseline"]), (0.15, results["method"])):
        x = [i + offset for i in range(len(tasks))]
        errorbar(axes[0], x, [results["inference"][t][model]["seconds_per_solved"] for t in tasks], ls="", label=model)
        errorbar(axes[1], x, [results["inference"][t][model]["generated_tokens"] for t in tasks], ls="", label=model)
    for axis, title in zip(axes, ("seconds per solved problem", "generated tokens per problem")):
        axis.set_xticks(range(len(tasks)), tasks)
        axis.set_title(title)
        axis.legend()
    paths["inference"] = save(figure, directory / "inference.png")

    figure, axis = plt.subplots(figsize=(5, 4))
    for task, curve in results["curve"].items():
        x = [p["generated_tokens"]["median"] for p in curve]
        errorbar(axis, x, [p["accuracy"] for p in curve], label=task)
        for point, xi in zip(curve, x):
            axis.annotate(f"k={point['k']}", (xi, point["accuracy"]["median"] or 0), fontsize=7)
    axis.set_xlabel("generated tokens per problem")
    axis.set_ylabel("accuracy")
    axis.legend()
    paths["curve"] = save(figure, directory / "latency_accuracy.png")

    figure, axis = plt.subplots(figsize=(5, 4))
    for stage, g in results["growth"].items():
        errorbar(axis, g["records"], g["seconds"], label=f"{stage} (b={g['time_exponent'] or float('nan'):.2f})")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("records")
    axis.set_ylabel("seconds")
    axis.legend(fontsize=7)
    paths["growth"] = save(figure, directory / "growth.png")
    plt.close("all")
    return paths


def save(figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return path


def write(results: dict, directory: Path) -> tuple[str, dict[str, Path]]:
    report = markdown(results)
    write_json(directory / "results.json", results)
    write_text(directory / "report.md", report)
    paths = plots(results, directory)
    return report, {"results": directory / "results.json", "report": directory / "report.md", **paths}
