"""Where every stage reads and writes: the one home of the folder layout.

    <data.dir>/<task>/                      the generated splits, their meta.json and the word-level tokenizer
    <out_dir>/vqvae/<task>/                 the VQ-VAE (model/) and its code caches; vqvae.dir= another's
    <out_dir>/finetune/<task>/<mode>/       a fine-tuned model
    <out_dir>/eval/<task>/<mode>/           its evaluation; the report in <out_dir>/eval/
    <out_dir>/eval-files/<name>/<task>/<mode>/  an evaluation of another test file or checkpoint (eval.name)
    <out_dir>/logs/, <out_dir>/bench/       the pipeline's job logs, make bench's report
    <out_dir>/base/                         the base models: an out_dir of their own (lm/base.py)
    <out_dir>/assistant/                    SoftCoT's assistant LMs: an out_dir of their own
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    out_dir: Path
    task: str
    data_dir: Path = Path("data")
    vqvae_dir: Path | None = None  # vqvae.dir: a VQ-VAE outside out_dir

    @classmethod
    def of(cls, cfg) -> "Layout":
        from omegaconf import OmegaConf

        vqvae_dir = OmegaConf.select(cfg, "vqvae.dir")
        return cls(Path(cfg.out_dir), cfg.task.name, Path(cfg.data.dir), Path(vqvae_dir) if vqvae_dir else None)

    def data(self) -> Path:
        return self.data_dir / self.task

    def vqvae(self) -> Path:
        return self.vqvae_dir or self.out_dir / "vqvae" / self.task

    def finetune(self, mode: str) -> Path:
        return self.out_dir / "finetune" / self.task / mode

    def evaluations(self) -> Path:
        return self.out_dir / "eval"

    def evaluation(self, mode: str, name: str | None = None) -> Path:
        """The benchmark's evaluation of `mode`, or (`name`) one of another test file or checkpoint."""
        if name:
            return self.out_dir / "eval-files" / name / self.task / mode
        return self.evaluations() / self.task / mode

    def logs(self) -> Path:
        """The pipeline's job logs."""
        return self.out_dir / "logs"

    def bench(self) -> Path:
        return self.out_dir / "bench"

    def inside(self, name: str) -> "Layout":
        """An out_dir of its own inside this one (the base models', the SoftCoT assistants')."""
        return replace(self, out_dir=self.out_dir / name)


def finetune_dir(cfg) -> Path:
    """Where `finetune` saves the model for cfg's task and mode, and where `evaluate` looks for it."""
    return Layout.of(cfg).finetune(cfg.mode.name)
