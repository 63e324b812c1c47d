"""Learning curves: greedy accuracy on valid records as a fine-tune goes, and their plot.

With curve.every = N, fine-tuning evaluates the model every N optimizer steps on the first curve.records valid
records (greedy decoding; the maze's accuracy is then its greedy plan's feasibility) and appends a row to
curve.csv in its output folder: step, samples seen, accuracy, grounded_steps, mean generated tokens. One run gives
the whole curve (docs/learning.md), at the cost of its evaluations.

    python -m token_assorted.evaluation.curve RUN_DIR [RUN_DIR ...] --out curves.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import lightning as L
import torch

from .harness import evaluate_records

CURVE = "curve.csv"
FIELDS = ("step", "samples", "accuracy", "grounded_steps", "generated_tokens")


class AccuracyCurve(L.Callback):
    """Every `every` optimizer steps (and after the last), evaluate on `records` and append a row to `path`."""

    def __init__(self, every: int, records: list[dict], tokenizer, task: str, *, max_new_tokens: int,
                 batch_size: int, samples_per_step: int, path: Path):
        self.every, self.records, self.tokenizer, self.task = every, records, tokenizer, task
        self.max_new_tokens, self.batch_size, self.samples_per_step = max_new_tokens, batch_size, samples_per_step
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step % self.every == 0 and step not in logged_steps(self.path):
            self.evaluate(trainer, pl_module.model, step)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.global_step not in logged_steps(self.path):
            self.evaluate(trainer, pl_module.model, trainer.global_step)

    def evaluate(self, trainer, model, step: int) -> None:
        if not trainer.is_global_zero:
            return
        model.eval()
        with torch.random.fork_rng(), torch.inference_mode():  # training's random stream is left as it was
            summary, _ = evaluate_records(
                model, self.tokenizer, self.task, self.records, max_new_tokens=self.max_new_tokens,
                batch_size=self.batch_size, progress=False, draw_samples=False,
            )
        model.train()
        row = {"step": step, "samples": step * self.samples_per_step, "accuracy": summary["accuracy"],
               "grounded_steps": summary.get("grounded_steps"), "generated_tokens": summary["generated_tokens"]}
        new = not self.path.is_file()
        with open(self.path, "a", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)


def read_curve(path: Path) -> list[dict]:
    """The rows of a curve.csv, numbers as numbers (an empty grounded_steps as None)."""
    with open(path, encoding="utf-8") as file:
        return [{key: float(value) if value not in ("", None) else None for key, value in row.items()}
                for row in csv.DictReader(file)]


def logged_steps(path: Path) -> set[int]:
    """The steps a curve already has: a resumed run does not evaluate them again."""
    return {int(row["step"]) for row in read_curve(path)} if path.is_file() else set()


def plot_curves(curves: dict[str, list[dict]], path: Path, title: str = "") -> None:
    """Accuracy and grounded_steps against training samples, one line per curve."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    accuracy, grounded = fig.subplots(1, 2)
    for i, (label, rows) in enumerate(curves.items()):
        samples = [row["samples"] for row in rows]
        accuracy.plot(samples, [100 * row["accuracy"] for row in rows], marker="o", ms=3, color=f"C{i}", label=label)
        if any(row["grounded_steps"] is not None for row in rows):
            points = [(row["samples"], 100 * row["grounded_steps"]) for row in rows if row["grounded_steps"] is not None]
            grounded.plot(*zip(*points), marker="o", ms=3, color=f"C{i}", label=label)
    thousands = FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0")  # full numbers overlap past 100,000
    for ax, name in ((accuracy, "accuracy (%)"), (grounded, "grounded steps (%)")):
        ax.xaxis.set_major_formatter(thousands)
        ax.set_xlabel("training samples")
        ax.set_ylabel(name)
        ax.set_ylim(-5, 105)
        ax.grid(alpha=0.3)
    accuracy.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m token_assorted.evaluation.curve",
                                     description="Plot the curve.csv of fine-tuned models against each other.")
    parser.add_argument("runs", nargs="+", help="fine-tune output folders (or curve.csv files), as LABEL=PATH or PATH")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    curves = {}
    for run in args.runs:
        label, _, path = run.rpartition("=") if "=" in run else (Path(run).name, "", run)
        path = Path(path) / CURVE if Path(path).is_dir() else Path(path)
        if not path.is_file():
            parser.error(f"no {CURVE} at {path}: fine-tune with curve.every=N to write one")
        curves[label] = read_curve(path)
    plot_curves(curves, Path(args.out), args.title)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
