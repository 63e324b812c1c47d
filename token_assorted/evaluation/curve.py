"""Learning curves: greedy accuracy on valid records as a fine-tune goes, and their plot.

With curve.every = N, fine-tuning evaluates the model every N optimizer steps on the first curve.records valid
records (greedy decoding; the maze's accuracy is then its greedy plan's feasibility) and appends a row to
curve.csv in its output folder: step, samples seen, accuracy, grounded_steps, mean generated tokens. One run gives
the whole curve (docs/learning.md), at the cost of its evaluations. The callback that writes it is
accuracy_curve.py's; this module reads and plots curves without torch, so its command answers at once.

    python -m token_assorted.evaluation.curve RUN_DIR [RUN_DIR ...] --out curves.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

CURVE = "curve.csv"
FIELDS = ("step", "samples", "accuracy", "grounded_steps", "generated_tokens")


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
