"""Fine-tune a causal LM on a task's training split, with reasoning mixed as the mode says.

    python -m token_assorted.finetune task=prosqa mode=random-replace
    python -m token_assorted.finetune task=prosqa mode=cot model=gpt2-small
    python -m token_assorted.finetune task=prosqa mode=sol-only model.path=/path/to/local/model

Writes <out_dir>/finetune/<task>/<mode>/: the model and the extended tokenizer (save_pretrained, loadable
by stock transformers), meta.json, train_log.csv and the last Lightning checkpoint. The directory
appears only when training has finished; Lightning works in <mode>.partial/ until then, and the same command
run again after a crash resumes from <mode>.partial/checkpoints/last.ckpt (resume.py).
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from omegaconf import OmegaConf

from .cli import hydra_main
from .data import get_tokenizer, load_dataset, task_dir
from .data.tokenizer import tokenizer_checksum
from .errors import StaleInputError
from .io import atomic_dir, sha256, write_meta
from .lock import holding_lock
from .resume import EpochBatches, LastCheckpoint, ResumeState, checkpoint_to_resume, merged_logs
from .trainer_settings import checked_trainer_settings
from .latent import LatentVocab, add_latent_embeddings, check_mode, code_tokens, extend_tokenizer, needs_codes
from .lm import (
    CausalLMModule,
    EpochDraws,
    MixingCollator,
    build_model,
    finetune_dir,
    max_positions,
    parameter_count,
    set_generation_ids,
)

SPLITS = ("train", "valid")


@dataclass
class LatentCodes:
    """The latent shape (L, r, K) and, where a trained VQ-VAE is used, its codebook and each split's codes."""

    chunk_size: int  # L
    compression: int  # r
    per_chunk: int  # codes per chunk: L/r (times the residual stages of an RVQ)
    codebook_size: int  # K
    codebook: torch.Tensor | None = None  # (K, dim)
    splits: dict[str, list[list[int]]] | None = None  # split -> codes per record, aligned with its records
    checksum: str | None = None  # of the VQ-VAE checkpoint the codes came from


def load_latent_codes(cfg) -> LatentCodes:
    """The trained VQ-VAE's codes; the only place fine-tuning touches the VQ-VAE."""
    from .vqvae import load_codes, load_vqvae

    vqvae = load_vqvae(cfg)
    return LatentCodes(
        chunk_size=vqvae.chunk_size,
        compression=vqvae.compression,
        per_chunk=vqvae.codes_per_chunk,
        codebook_size=vqvae.codebook_size,
        codebook=vqvae.codebook().detach().cpu(),
        splits={split: load_codes(cfg, split) for split in SPLITS},
        checksum=vqvae.checksum,
    )


def latent_codes(cfg, mode) -> LatentCodes:
    """The VQ-VAE's codes where the mode (or a codebook init) uses them; else only the shape, from cfg.vqvae."""
    if needs_codes(mode.name) or cfg.model.latent_init == "codebook":
        return load_latent_codes(cfg)
    v = cfg.vqvae
    return LatentCodes(v.chunk_size, v.compression, v.chunk_size // v.compression, v.codebook_size)


def check_aligned(latents: LatentCodes, data: dict[str, list[dict]]) -> None:
    for split, rows in data.items():
        if len(latents.splits[split]) != len(rows):
            raise StaleInputError(
                f"the VQ-VAE codes for {split} cover {len(latents.splits[split])} records, the split has {len(rows)}: "
                "retrain the VQ-VAE on this data (python -m token_assorted.train_vqvae)"
            )


def init_latent_embeddings(model, vocab: LatentVocab, init: str, latents: LatentCodes, train: list[dict]) -> None:
    covered = None
    if init == "codebook":
        reasoning = [row["reasoning_ids"] for row in train]
        covered = code_tokens(
            latents.splits["train"], reasoning, latents.chunk_size, latents.compression, latents.per_chunk,
            latents.codebook_size,
        )
    add_latent_embeddings(model, vocab, init, latents.codebook, covered)


def make_trainer(cfg, work: Path, callbacks: list, progress: bool) -> L.Trainer:
    t = cfg.trainer
    with checked_trainer_settings():
        return L.Trainer(
            accelerator=t.accelerator,
            devices=t.devices,
            strategy=t.strategy,
            num_nodes=t.num_nodes,
            precision=t.precision,
            max_epochs=cfg.finetune.epochs,
            gradient_clip_val=cfg.finetune.grad_clip,
            log_every_n_steps=t.log_every_n_steps,
            limit_train_batches=t.limit_train_batches,
            limit_val_batches=t.limit_val_batches,
            callbacks=[*callbacks, LastCheckpoint(work / "checkpoints", t.checkpoint_every_n_steps)],
            # one version per attempt (a resumed run adds one), flushed with each checkpoint: merged at the end
            logger=CSVLogger(work, name="logs", flush_logs_every_n_steps=t.checkpoint_every_n_steps),
            default_root_dir=work,
            use_distributed_sampler=False,  # EpochBatches shards the training batches by rank itself
            enable_progress_bar=progress,
            enable_model_summary=progress,
        )


def run_identity(cfg, inputs: dict) -> dict:
    """What a checkpoint must have been made with for a rerun to resume from it."""
    return {"config": OmegaConf.to_container(cfg, resolve=True), "inputs": inputs}


@holding_lock(finetune_dir)
def run(cfg, progress: bool = True) -> Path:
    mode = OmegaConf.to_object(cfg.mode)
    check_mode(mode)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*dataloader is not resumable.*")  # ResumeState resumes it

    tokenizer = get_tokenizer(cfg, progress=progress)
    model = build_model(cfg.model, tokenizer)
    latents = latent_codes(cfg, mode)
    vocab = extend_tokenizer(tokenizer, latents.codebook_size)
    limit = max_positions(model, cfg.model)
    data = {split: load_dataset(cfg, split, tokenizer, max_length=limit).to_list() for split in SPLITS}
    if latents.splits is not None:
        check_aligned(latents, data)
    init_latent_embeddings(model, vocab, cfg.model.latent_init, latents, data["train"])
    set_generation_ids(model, tokenizer, cfg.task.max_new_tokens)

    collators = {
        split: MixingCollator(
            mode, vocab, latents.splits[split] if latents.splits else None,
            chunk_size=latents.chunk_size, per_chunk=latents.per_chunk, pad_id=tokenizer.pad_token_id,
            max_length=limit, seed=cfg.seed, split=split,
        )
        for split in SPLITS
    }
    inputs = {"train": sha256(task_dir(cfg) / "train.json"), "tokenizer": tokenizer_checksum(tokenizer)}
    if latents.checksum:
        inputs["vqvae"] = latents.checksum

    final = finetune_dir(cfg)
    work = final.with_name(final.name + ".partial")
    resume_from = checkpoint_to_resume(work / "checkpoints", run_identity(cfg, inputs))
    draws, resume_state = EpochDraws(mode, cfg.finetune.epochs, collators["train"], collators["valid"]), ResumeState()
    trainer = make_trainer(cfg, work, [draws, resume_state], progress)
    order = EpochBatches(len(data["train"]), cfg.finetune.batch_size, cfg.seed, trainer.global_rank, trainer.world_size)
    resume_state.sampler = order
    loaders = [
        torch.utils.data.DataLoader(
            data["train"], batch_sampler=order, collate_fn=collators["train"], num_workers=cfg.trainer.num_workers
        ),
        torch.utils.data.DataLoader(
            data["valid"], batch_size=cfg.finetune.batch_size, collate_fn=collators["valid"],
            num_workers=cfg.trainer.num_workers,
        ),
    ]
    module = CausalLMModule(model, cfg.finetune)
    start = time.perf_counter()
    trainer.fit(module, *loaders, ckpt_path=resume_from)
    trainer.save_checkpoint(work / "checkpoints" / "final.ckpt")  # a crash before the move resumes from last.ckpt
    seconds = time.perf_counter() - start
    if not trainer.is_global_zero:
        return final

    tokens_seen = module.tokens_seen * trainer.world_size  # each process counted its own batches
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        attempts = sorted(work.glob("logs/version_*/metrics.csv"), key=lambda f: int(f.parent.name.split("_")[1]))
        (tmp / "train_log.csv").write_text(merged_logs(attempts), encoding="utf-8")
        shutil.move(work / "checkpoints", tmp / "checkpoints")
        write_meta(
            tmp,
            config=OmegaConf.to_container(cfg, resolve=True),
            seed=cfg.seed,
            inputs=inputs,
            mode=mode.name,
            chunk_size=latents.chunk_size,
            compression=latents.compression,
            codes_per_chunk=latents.per_chunk,
            codebook_size=latents.codebook_size,
            latent_ids={"first_code": vocab.first_code_id, "begin": vocab.begin_id, "end": vocab.end_id},
            parameters=parameter_count(model),
            tokens_seen=tokens_seen,
            steps=trainer.global_step,
            epochs=trainer.current_epoch,
            curriculum_stage=draws.stage,
            train_seconds=round(seconds, 2),
            tokens_per_second=round(tokens_seen / seconds, 1),
            final_metrics=metrics,
        )
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"wrote {final} ({mode.name}: {parameter_count(model):,} parameters, {tokens_seen:,} training tokens "
        f"in {seconds:.0f} s, val_loss {metrics.get('val_loss', float('nan')):.4f})"
    )
    return final


main = hydra_main(run)


if __name__ == "__main__":
    main()
