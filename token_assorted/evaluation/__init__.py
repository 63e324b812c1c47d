"""Evaluation: batched generation, scoring with each task's scorer, token counts, reports and plots."""

from .checkpoint import Checkpoint, checkpoint_dir, finetune_dir, load_checkpoint
from .generation import GREEDY, Decoding, generate
from .harness import SAMPLED_TASKS, evaluate_records
from .metrics import one_feasible, summarize
from .report import write_report
from .results import eval_dir, load_results, write_results
from .tokens import count_tokens, is_latent_token, latent_blocks, latent_token_ids

__all__ = [
    "GREEDY", "SAMPLED_TASKS", "Checkpoint", "Decoding", "checkpoint_dir", "count_tokens", "eval_dir",
    "evaluate_records", "finetune_dir", "generate", "is_latent_token", "latent_blocks", "latent_token_ids",
    "load_checkpoint", "load_results", "one_feasible", "summarize", "write_report", "write_results",
]
