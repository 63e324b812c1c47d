"""(Re)build the code caches of a trained VQ-VAE without training it again.

    python -m token_assorted.vqvae task=prosqa

Each split's cache is rebuilt only if its records or the checkpoint changed since it was written.
"""

from __future__ import annotations

from ..cli import hydra_main
from ..lock import holding_lock
from .checkpoint import run_dir


@holding_lock(run_dir)
def run(cfg) -> dict[str, int]:
    from .codes import build_caches  # torch loads here: --help answers without it

    counts = build_caches(cfg)
    listing = ", ".join(f"{split} {n}" for split, n in counts.items())
    print(f"code caches up to date in {run_dir(cfg) / 'codes'} ({listing} records)")
    return counts


main = hydra_main(run, reads=("task", "data", "vqvae", "trainer.accelerator"))

if __name__ == "__main__":
    main()
