"""The callback that writes a fine-tune's learning curve (curve.py reads and plots it)."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import torch

from .curve import FIELDS, logged_steps
from .harness import evaluate_records


class AccuracyCurve(L.Callback):
    """Every `every` optimizer steps (and after the last), evaluate on `records` and append a row to `path`:
    greedy answers, the codes chosen as `evaluate` chooses them (`code_choice`: eval.code_choice)."""

    def __init__(self, every: int, records: list[dict], tokenizer, task: str, *, max_new_tokens: int,
                 batch_size: int, code_choice: str, samples_per_step: int, path: Path):
        self.every, self.records, self.tokenizer, self.task = every, records, tokenizer, task
        self.max_new_tokens, self.batch_size, self.code_choice = max_new_tokens, batch_size, code_choice
        self.samples_per_step, self.path = samples_per_step, path

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
                batch_size=self.batch_size, code_choice=self.code_choice, progress=False, draw_samples=False,
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
