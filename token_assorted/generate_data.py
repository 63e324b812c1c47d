"""Generate a benchmark's train/valid/test splits.

    python -m token_assorted.generate_data task=prosqa
    python -m token_assorted.generate_data task=maze task.params.rooms=2 task.sizes.train=2000
"""

from __future__ import annotations

from .cli import hydra_main
from .data.splits import generate, task_dir
from .lock import holding_lock


@holding_lock(task_dir)
def run(cfg, progress: bool = True) -> dict[str, int]:
    counts = generate(cfg, progress=progress)
    listing = ", ".join(f"{split} {count}" for split, count in counts.items())
    print(f"wrote {task_dir(cfg)}/{{train,valid,test}}.json ({cfg.task.name}: {listing}; seed {cfg.data.seed})")
    return counts


main = hydra_main(run, reads=("task", "data"))


if __name__ == "__main__":
    main()
