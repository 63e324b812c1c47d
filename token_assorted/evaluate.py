"""Evaluate a fine-tuned model on a task's test split and save results.json + predictions.jsonl.

    python -m token_assorted.evaluate task=prosqa mode=random-replace
    python -m token_assorted.evaluate task=prosqa eval.checkpoint=DIR data.test_file=PATH

Greedy decoding; for the maze also top-k samples, whose 1-Feasible-k rate is the accuracy (docs/method.md).
Writes <out_dir>/eval/<task>/<mode>/, replacing the evaluation there: `make eval` redoes its own where the one
there was made under other settings. An evaluation of another test file or checkpoint goes to a place of its own,
<out_dir>/eval-files/<name>/<task>/<mode>/ (eval.name=, else named after the file), never over the benchmark's.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from .cli import hydra_main
from .config import EVAL_SETTINGS, SHOW_ONLY, settings
from .data.splits import load_split
from .evaluation.report import describe
from .evaluation.results import PREDICTIONS, RESULTS, evaluation_dir, evaluation_file, write_results
from .identity import is_current as identity_is_current, made_from, setting_paths
from .lock import holding_lock
from .methods import prompting_for
from .precision import device_for


def identity(cfg) -> dict:
    """What an evaluation is made from (identity.py): its settings, the checkpoint and the test file."""
    from .evaluation.checkpoint import evaluation_inputs

    return made_from(settings(cfg, EVAL_SETTINGS), evaluation_inputs(cfg))


def is_current(cfg) -> bool:
    """Results made under these settings, of the checkpoint and test file there now."""
    from .evaluation.checkpoint import checkpoint_dir

    directory = evaluation_dir(cfg)
    made = (directory / RESULTS).is_file() and checkpoint_dir(cfg).is_dir() and evaluation_file(cfg).is_file()
    return made and identity_is_current(directory, lambda: identity(cfg), ignore=setting_paths(SHOW_ONLY))


@holding_lock(evaluation_dir)
def run(cfg, progress: bool = True) -> dict:
    # torch loads here, not when the module does: --help answers without it
    from .evaluation.checkpoint import load_checkpoint
    from .evaluation.harness import evaluate_checkpoint

    device = device_for(cfg.trainer.accelerator)
    checkpoint = load_checkpoint(cfg, device)
    prompting = prompting_for(checkpoint, device)
    records = load_split(cfg, "test")[: cfg.eval.limit]
    metrics, predictions = evaluate_checkpoint(
        cfg, checkpoint, records, prompting=prompting, force_latents=cfg.eval.force_latents, progress=progress)
    results = {
        "task": cfg.task.name,
        "mode": cfg.mode.name,
        "checkpoint": str(checkpoint.path),
        "test_file": str(evaluation_file(cfg)),
        **metrics,
        "parameters": checkpoint.parameters + prompting.parameters,
        "training_tokens": checkpoint.training_tokens,
        "seed": checkpoint.training_seed,
        "eval_seed": cfg.eval.seed,
        "code_choice": cfg.eval.code_choice,
        "device": str(device),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    directory = evaluation_dir(cfg)
    write_results(directory, results, predictions, identity=identity(cfg))
    print(describe(results))
    print(f"wrote {directory / RESULTS} and {PREDICTIONS}")
    return results


main = hydra_main(run, reads=("task", "data", "model", "mode", "base.use", "eval", "trainer.accelerator",
                             "trainer.precision"))


if __name__ == "__main__":
    main()
