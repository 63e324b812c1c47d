"""Where a run's results live: <out_dir>/eval/<task>/<mode>/{results.json, predictions.jsonl, meta.json}."""

from __future__ import annotations

import json
from pathlib import Path

from ..data.splits import split_file
from ..io import atomic_dir, write_meta
from ..layout import Layout

RESULTS = "results.json"
PREDICTIONS = "predictions.jsonl"


def eval_root(out_dir) -> Path:
    return Layout(Path(out_dir), "").evaluations()


def eval_dir(out_dir, task: str, mode: str) -> Path:
    return Layout(Path(out_dir), task).evaluation(mode)


def evaluation_file(cfg) -> Path:
    """The file the test records come from: `data.test_file`, or the task's generated test split."""
    return split_file(cfg, "test")


def evaluation_dir(cfg) -> Path:
    """Where cfg's evaluation goes: the benchmark's place, or, for another test file or checkpoint, a place of its
    own named by eval.name (else after the file and the checkpoint), so that it never replaces the benchmark's."""
    file, checkpoint = cfg.data.test_file, cfg.eval.checkpoint
    parts = [f"{Path(file).parent.name}-{Path(file).stem}".strip("-") if file else "",
             Path(checkpoint).name if checkpoint else ""]
    parts = [part for part in parts if part]
    name = cfg.eval.name or "-".join(parts) or None
    return Layout.of(cfg).evaluation(cfg.mode.name, name)


def write_results(directory, results: dict, predictions: list[dict], *, identity: dict) -> None:
    """Write all three files at once: the directory is replaced only when every file is complete."""
    with atomic_dir(directory) as tmp:
        (tmp / RESULTS).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in predictions)
        (tmp / PREDICTIONS).write_text("".join(lines), encoding="utf-8")
        write_meta(tmp, config=results["config"], seed=results["eval_seed"], inputs=identity["inputs"],
                   identity=identity)


def load_results(out_dir) -> dict[str, dict[str, dict]]:
    """{task: {mode: results}} for every finished run under <out_dir>/eval."""
    found: dict[str, dict[str, dict]] = {}
    for path in sorted(eval_root(out_dir).glob(f"*/*/{RESULTS}")):
        found.setdefault(path.parent.parent.name, {})[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    return found
