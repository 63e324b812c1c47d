"""Train a task's base model: a cot model that every method fine-tunes from where base.use is set (lm/base.py).

    python -m token_assorted.train_base task=prosqa
    python -m token_assorted.train_base task=prosqa base.train.max_steps=3000

Writes <out_dir>/base/finetune/<task>/cot/, as `finetune mode=cot out_dir=<out_dir>/base` would with finetune.*
set to base.train.*: the model and its tokenizer (save_pretrained), meta.json and train_log.csv. A crashed run
resumes as a fine-tune does.
"""

from __future__ import annotations

from pathlib import Path

from . import finetune
from .cli import hydra_main
from .lm.base import base_config


def run(cfg, progress: bool = True) -> Path:
    return finetune.run(base_config(cfg), progress=progress)


main = hydra_main(run, reads=("task", "data", "model", "base", "trainer", "curve"), modes=lambda cfg: ["cot"])


if __name__ == "__main__":
    main()
