"""A suite's report: a method x task table, accuracy against generated tokens, and summary.json.

`results` is {task: {mode: results.json of that run}}. Written under <out_dir>/eval/:
summary.md (the tables), summary.json (the numbers) and accuracy_vs_tokens.png (the plot).
"""

from __future__ import annotations

from pathlib import Path

from ..config import POOLED_LABEL
from ..errors import ConfigError
from ..io import atomic_path, write_json, write_text
from ..records import parse_json_rows
from ..tasks import get_task
from .results import PREDICTIONS, eval_dir, eval_root
from .stats import mcnemar_exact, paired_counts

SUMMARY_FIELDS = (
    "accuracy", "accuracy_interval", "majority_rate", "generated_tokens", "latent_tokens", "text_tokens",
    "thought_tokens", "seconds_per_solved", "examples_per_s", "n", "parameters", "training_tokens", "seed",
    "samples_per_example", "greedy_feasible", "greedy_optimal", "code_choice", "grounded_steps", "cut_share",
    "vqvae_token_accuracy",
)
MISSING = "–"
BASELINE = "cot"  # the method the paper's token savings are measured against
MAJORITY = "majority answer"  # the row of what an answer that ignores the question scores
VQVAE = "VQ-VAE token accuracy"  # the row of how much of a trace the codes of the methods that read them keep


def summary(results: dict[str, dict[str, dict]], paired: dict | None = None) -> dict[str, dict[str, dict]]:
    """The headline numbers of each run (fields a run lacks, like the maze's greedy rates elsewhere, are left out),
    with `tokens_vs_cot`, its generated tokens over cot's on that task, where the task has a cot run, and `vs_cot`,
    the paired test against cot on the same items (paired_tests), where both runs' predictions are there."""
    numbers = {}
    for task, runs in results.items():
        numbers[task] = {}
        for mode, run in runs.items():
            numbers[task][mode] = {k: run[k] for k in SUMMARY_FIELDS if k in run}
            if (share := tokens_vs_baseline(runs, mode)) is not None:
                numbers[task][mode]["tokens_vs_cot"] = share
            if (test := (paired or {}).get(task, {}).get(mode)) is not None:
                numbers[task][mode]["vs_cot"] = test
    return numbers


def solved_items(out_dir, task: str, mode: str) -> list[tuple[str, bool]] | None:
    """(question, solved) of each item a run evaluated, in order; None where its predictions are not there."""
    path = eval_dir(out_dir, task, mode) / PREDICTIONS
    if not path.is_file():
        return None
    rows = parse_json_rows(path.read_text(encoding="utf-8"), path)
    return [(row["question"], bool(row["solved"])) for row in rows]


def paired_tests(results: dict[str, dict[str, dict]], out_dir) -> dict[str, dict[str, dict]]:
    """Each method against cot on the same test items: how many only it solved, how many only cot solved, and
    McNemar's exact p-value, the chance of a split that uneven were neither method the better. Left out where the
    two runs' predictions are not of the same items."""
    tests: dict[str, dict[str, dict]] = {}
    for task, runs in results.items():
        baseline = solved_items(out_dir, task, BASELINE) if BASELINE in runs else None
        for mode in runs:
            items = solved_items(out_dir, task, mode) if baseline and mode != BASELINE else None
            if not items or [q for q, _ in items] != [q for q, _ in baseline]:
                continue
            only_mode, only_cot = paired_counts([s for _, s in items], [s for _, s in baseline])
            tests.setdefault(task, {})[mode] = {
                "only_this": only_mode, "only_cot": only_cot, "mcnemar_p": mcnemar_exact(only_mode, only_cot),
            }
    return tests


def tokens_vs_baseline(runs: dict[str, dict], mode: str) -> float | None:
    """mode's mean generated tokens over the baseline's on one task; None without both runs to compare."""
    baseline = runs.get(BASELINE, {}).get("generated_tokens")
    tokens = runs.get(mode, {}).get("generated_tokens")
    return None if not baseline or tokens is None else tokens / baseline


def methods(results: dict[str, dict[str, dict]]) -> list[str]:
    """Every mode that appears, in first-seen order."""
    return list(dict.fromkeys(mode for runs in results.values() for mode in runs))


def task_title(task: str, runs: dict[str, dict]) -> str:
    """The task's name with the difficulty its test split was made at ("prontoqa, 3 hops"), and the accuracy's
    definition where runs drew samples (the maze's 1-Feasible-k)."""
    ks = sorted({run["samples_per_example"] for run in runs.values() if "samples_per_example" in run})
    levels = list(dict.fromkeys(filter(None, (difficulty(task, run) for run in runs.values()))))
    title = f"{task}, {' / '.join(levels)}" if levels else task
    return f"{title} (1-Feasible-{'/'.join(map(str, ks))})" if ks else title


def difficulty(task: str, run: dict) -> str | None:
    """The difficulty of the generated test split a run was evaluated on (None for data.test_file, or a task
    without knobs)."""
    config = run.get("config", {})
    if config.get("data", {}).get("test_file"):
        return None
    try:
        module = get_task(task)
        return module.difficulty(module.Params(**config["task"]["params"])) if hasattr(module, "difficulty") else None
    except (KeyError, TypeError, ConfigError):
        return None


def _number(value, digits: int = 1, scale: float = 1.0) -> str:
    return MISSING if value is None else f"{value * scale:.{digits}f}"


def accuracy_table(results: dict[str, dict[str, dict]]) -> str:
    """Method rows, task columns; each cell 'accuracy % [95 % interval] (mean generated tokens)', as in the paper
    with the interval added; a last row with the majority answer's accuracy, where a task's answers allow one."""
    tasks = list(results)
    titles = [task_title(task, results[task]) for task in tasks]
    lines = ["| method | " + " | ".join(titles) + " |", "|---" * (len(tasks) + 1) + "|"]
    for method in methods(results):
        cells = []
        for task in tasks:
            run = results[task].get(method)
            cells.append(MISSING if run is None else f"{accuracy_text(run)} ({tokens_text(run)})")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    for label, rates in ((MAJORITY, [majority_rate(results[task]) for task in tasks]),
                         (VQVAE, [vqvae_token_accuracy(results[task]) for task in tasks])):
        if any(rate is not None for rate in rates):
            lines.append(f"| {label} | " + " | ".join(_number(rate, scale=100) for rate in rates) + " |")
    return "\n".join(lines) + "\n"


def tokens_text(run: dict) -> str:
    """'41.4' mean generated tokens, with the share of answers cut at max_new_tokens where there were any."""
    cut = run.get("cut_share")
    return _number(run.get("generated_tokens")) + (f", {100 * cut:.0f} % cut" if cut else "")


def accuracy_text(run: dict) -> str:
    """'93.2 [90.4, 95.2]': the accuracy in % with its 95 % interval, where the run has one."""
    interval = run.get("accuracy_interval")
    bounds = f" [{_number(interval[0], scale=100)}, {_number(interval[1], scale=100)}]" if interval else ""
    return _number(run.get("accuracy"), scale=100) + bounds


def majority_rate(runs: dict[str, dict]) -> float | None:
    """The majority answer's accuracy on a task's test items, where every run that has it agrees (one test split)."""
    rates = {run["majority_rate"] for run in runs.values() if run.get("majority_rate") is not None}
    return rates.pop() if len(rates) == 1 else None


def vqvae_token_accuracy(runs: dict[str, dict]) -> float | None:
    """The token accuracy of the VQ-VAE a task's methods read their codes from (None where none of them does)."""
    return next((run["vqvae_token_accuracy"] for run in runs.values() if run.get("vqvae_token_accuracy") is not None),
                None)


def baseline_table(results: dict[str, dict[str, dict]], paired: dict | None = None) -> str:
    """Every other method against cot, task by task: accuracy in points above cot's, generated tokens as a share
    of cot's (the paper's claim: as accurate, with fewer tokens) and the paired test's p-value. Empty where no task
    has a cot run."""
    tasks = [task for task in results if BASELINE in results[task]]
    others = [method for method in methods({task: results[task] for task in tasks}) if method != BASELINE]
    if not others:
        return ""
    lines = ["| method | " + " | ".join(task_title(task, results[task]) for task in tasks) + " |",
             "|---" * (len(tasks) + 1) + "|"]
    for method in others:
        cells = (against_cell(results[task], method, (paired or {}).get(task, {}).get(method)) for task in tasks)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def against_cell(runs: dict[str, dict], method: str, test: dict | None = None) -> str:
    """'+1.2 (40 %) p 0.63': method's accuracy in points above cot's, its generated tokens as a share of cot's and,
    where the paired test was made, its p-value."""
    share = tokens_vs_baseline(runs, method)
    accuracy, baseline = runs.get(method, {}).get("accuracy"), runs[BASELINE].get("accuracy")
    if share is None or accuracy is None or baseline is None:
        return MISSING
    p_value = f" p {test['mcnemar_p']:.2g}" if test else ""
    # a share of tokens says nothing where both ran to the token limit
    limit = " both cut" if min(runs[method].get("cut_share", 0), runs[BASELINE].get("cut_share", 0)) >= 0.5 else ""
    return f"{100 * (accuracy - baseline):+.1f} ({100 * share:.0f} %{limit}){p_value}"


def _count(value) -> str:
    return MISSING if value is None else f"{value:,}"


def details_table(results: dict[str, dict[str, dict]]) -> str:
    header = ("task", "method", "n", "accuracy %", "generated", "latent", "text", "thoughts", "examples/s",
              "s/solved", "grounded steps %", "parameters", "training tokens")
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for task, runs in results.items():
        for method, run in runs.items():
            row = (
                task, method, _count(run.get("n")), _number(run.get("accuracy"), scale=100),
                *(_number(run.get(name)) for name in ("generated_tokens", "latent_tokens", "text_tokens")),
                _number(run.get("thought_tokens", 0)),
                _number(run.get("examples_per_s"), 2), _number(run.get("seconds_per_solved"), 3),
                _number(run.get("grounded_steps"), scale=100),
                _count(run.get("parameters")), _count(run.get("training_tokens")),
            )
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def plot(results: dict[str, dict[str, dict]], path) -> None:
    """One panel per task, one point per method with its 95 % interval (the same colour and marker in every panel,
    named in the legend only: methods often tie, and labels beside the points overlapped). Hollow markers, each
    method's smaller than the one before, so that tied methods show one inside the other."""
    from matplotlib.figure import Figure  # a bare Figure draws with Agg and leaves pyplot's state alone

    names = methods(results)
    markers = "osD^v<>pXh*"
    fig = Figure(figsize=(4.2 * len(results), 3.8), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (task, runs) in zip(axes, results.items()):
        for i, method in enumerate(names):
            run = runs.get(method)
            if run is None or run.get("accuracy") is None or run.get("generated_tokens") is None:
                continue
            x, y = run["generated_tokens"], 100 * run["accuracy"]
            if interval := run.get("accuracy_interval"):  # points whose bars overlap may not differ
                ax.errorbar([x], [y], yerr=[[y - 100 * interval[0]], [100 * interval[1] - y]], color=f"C{i % 10}",
                            linewidth=1, capsize=3)
            size = 140 - 110 * i / max(len(names) - 1, 1)
            ax.scatter([x], [y], marker=markers[i % len(markers)], s=size, facecolors="none",
                       edgecolors=f"C{i % 10}", linewidths=1.8, label=method)
        if (rate := majority_rate(runs)) is not None:
            ax.axhline(100 * rate, color="grey", linestyle="--", linewidth=1, label=MAJORITY)
        ns = sorted({run["n"] for run in runs.values() if "n" in run})
        ax.set_title(task_title(task, runs) + (f"\nn = {'/'.join(map(str, ns))}" if ns else ""), fontsize=9)
        ax.set_xlabel("mean generated tokens")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-5, 110)
        ax.margins(x=0.1)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    handles = {label: handle for ax in axes for handle, label in zip(*ax.get_legend_handles_labels())}
    # two entries a row per panel: wider rows ran off a one-task figure's edges
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncols=max(1, min(len(handles), 2 * len(results))), title_fontsize=8,
               title="bars: 95 % intervals; the markers of tied methods nest")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)


def provenance(wall_seconds: float | None = None) -> dict:
    """What a report was made by and on: commit, date, machine (CPU model and cores) and the run's wall time."""
    import datetime
    import os
    import subprocess

    from ..precision import cpu_name

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, text=True,
                                capture_output=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    about = {"commit": commit, "date": datetime.date.today().isoformat(),
             "machine": f"{os.cpu_count()}-core {cpu_name()}"}
    if wall_seconds is not None:
        about["wall_seconds"] = round(wall_seconds)
    return about


def made_under(results: dict[str, dict[str, dict]], about: dict) -> dict:
    """`about` (provenance()) with the preset and, per task, its training records and test items."""
    runs = [run for task_runs in results.values() for run in task_runs.values()]
    presets = sorted({run.get("config", {}).get("preset") for run in runs} - {None})
    tasks = {}
    for task, task_runs in results.items():
        run = next(iter(task_runs.values()))
        tasks[task] = {"train": run.get("config", {}).get("task", {}).get("sizes", {}).get("train"),
                       "tested": run.get("n")}
    return {"preset": ", ".join(presets) or None, "tasks": tasks, **about}


def header(made: dict) -> str:
    """One line: the preset, each task's training records and test items, and where and when the report was made
    (made_under())."""
    sizes = []
    for task, n in made["tasks"].items():
        trained = f"{n['train']:,} training records, " if n["train"] else ""
        sizes.append(f"{task} {trained}{n['tested'] or '?'} tested")
    parts = [f"preset {made['preset']}" if made["preset"] else None, "; ".join(sizes),
             f"commit {made['commit']}, {made['date']}, {made['machine']}",
             f"wall time {made['wall_seconds']} s" if "wall_seconds" in made else None]
    return " | ".join(part for part in parts if part)


def write_report(results: dict[str, dict[str, dict]], out_dir, about: dict | None = None
                 ) -> tuple[str, dict[str, Path]]:
    """Write the suite's table, plot and summary.json under <out_dir>/eval; returns (the captioned table, paths).
    `about` (provenance()) heads them with the preset, sizes, commit, date, machine and wall time: summary.json holds
    it under "made", the numbers under "results"."""
    root = eval_root(out_dir)
    paths = {"table": root / "summary.md", "summary": root / "summary.json", "plot": root / "accuracy_vs_tokens.png"}
    table = accuracy_table(results)
    paired = paired_tests(results, out_dir)
    caption = "Accuracy % [95 % interval] (mean generated tokens, and the share cut at max_new_tokens if any).\n\n"
    if any(run.get("code_choice") == "pooled" for runs in results.values() for run in runs.values()):
        caption = caption.replace(").\n\n", f"); {POOLED_LABEL}.\n\n")
    if against := baseline_table(results, paired):
        table += (f"\nAgainst {BASELINE}: accuracy in points above {BASELINE}'s (generated tokens as % of "
                  f"{BASELINE}'s; both cut: both ran to max_new_tokens on half the items or more); p: McNemar's exact "
                  f"test on the same items, below 0.05 a difference unlikely by chance.\n\n{against}")
    made = made_under(results, about) if about is not None else None
    if made is not None:
        caption = header(made) + "\n\n" + caption
    write_text(paths["table"], "# Results\n\n" + caption + table + "\n## Details\n\n" + details_table(results))
    write_json(paths["summary"], {"made": made, "results": summary(results, paired)})
    plot(results, paths["plot"])
    return caption + table, paths


def describe(run: dict) -> str:
    """One run in a line, for the console."""
    accuracy = "accuracy"
    if "samples_per_example" in run:
        accuracy = f"accuracy (1-Feasible-{run['samples_per_example']}, top-{run['config']['eval']['top_k']})"
    text = (
        f"{run['task']}/{run['mode']}: {accuracy} {_number(run['accuracy'], scale=100)}% ({run['solved']}/{run['n']}), "
        f"{_number(run['generated_tokens'])} generated tokens ({_number(run['latent_tokens'])} latent, "
        f"{_number(run['text_tokens'])} text, {_number(run.get('thought_tokens', 0))} thoughts), "
        f"{_number(run['examples_per_s'], 2)} examples/s, "
        f"{_number(run['seconds_per_solved'], 3)} s per solved"
    )
    if run.get("grounded_steps") is not None:
        text += f"; {_number(run['grounded_steps'], scale=100)}% of the sentences it wrote are stated facts"
    if run.get("code_choice") == "pooled":
        text += f"; {POOLED_LABEL}"
    if "greedy_feasible" in run:
        text += (f"; greedy: feasible {_number(run['greedy_feasible'], scale=100)}%, "
                 f"optimal {_number(run['greedy_optimal'], scale=100)}%")
    return text
