"""Train the VQ-VAE on a task's training split, measure it on the valid split, then cache every split's codes.

    python -m token_assorted.train_vqvae task=prosqa
    python -m token_assorted.train_vqvae task=prontoqa vqvae.quantizer=fsq vqvae.train.epochs=2

Writes <out_dir>/vqvae/<task>/: model/ (config.json, model.safetensors), meta.json, metrics.json,
codes/{train,valid,test}.json, checkpoints/ (Lightning) and logs/ (CSV). meta.json is removed when training
starts and written last, so a half-trained directory is never taken for a finished one. The same command run
again after a crash resumes from checkpoints/last.ckpt (resume.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cli import hydra_main
from .config import LIMITS, settings
from .data import get_tokenizer
from .identity import is_current as identity_is_current, to_resume
from .io import META, atomic_dir, sha256, write_json, write_meta
from .lock import holding_lock
from .precision import device_for
from .trainer_settings import log_every, loggers, make_trainer
from .vqvae.checkpoint import METRICS, build_vqvae, identity as vqvae_identity, model_dir, run_dir, vqvae_config

if TYPE_CHECKING:  # lightning loads when a run starts, not with this module: --help answers without it
    from .vqvae.module import VQVAEModule


def identity(cfg, tokenizer=None) -> dict:
    """What the VQ-VAE is made from (vqvae/checkpoint.py's identity), with the task's tokenizer unless given."""
    return vqvae_identity(cfg, tokenizer if tokenizer is not None else get_tokenizer(cfg, progress=False))


def is_current(cfg) -> bool:
    return model_dir(cfg).is_dir() and identity_is_current(run_dir(cfg), lambda: identity(cfg))


def train(cfg, tokenizer, rows: dict, made: dict, progress: bool = True) -> tuple[VQVAEModule, float]:
    """Fit the model, resuming from checkpoints stamped with the identity `made`; returns the trained module and the
    seconds spent training."""
    from lightning.pytorch.callbacks import Timer

    from .data.shards import check_divisible
    from .divergence import StopOnDivergence
    from .resume import LAST, LastCheckpoint, ResumeState, checkpoint_to_resume
    from .vqvae.chunks import loader
    from .vqvae.module import VQVAEModule

    directory, optim = run_dir(cfg), cfg.vqvae.train
    model = build_vqvae(cfg.vqvae, tokenizer)
    module = VQVAEModule(model, optim, continuous_steps=cfg.vqvae.continuous_steps)
    checkpoints = directory / "checkpoints"
    resume_from = checkpoint_to_resume(checkpoints, to_resume(made, cfg))
    timer, resume_state = Timer(), ResumeState()
    trainer = make_trainer(
        cfg.trainer, optim, progress=progress, logger=loggers(cfg.trainer, directory, f"{cfg.task.name}/vqvae"),
        callbacks=[
            resume_state, timer, StopOnDivergence(f"vqvae.train.lr={optim.lr}"),
            LastCheckpoint(checkpoints, cfg.trainer.checkpoint_every_n_steps),
        ],
        num_sanity_val_steps=0,  # k-means initialises the codebook on the first batch it sees: a training batch
    )
    check_divisible(optim.batch_size, trainer.world_size, "vqvae.train.batch_size")
    batches = dict(
        batch_size=optim.batch_size, chunk_size=model.chunk_size, pad_id=model.pad_id, eos_id=model.eos_id,
        num_workers=cfg.trainer.num_workers,
    )
    train_loader = loader(rows["train"], seed=cfg.seed, window=optim.length_window, **batches)
    resume_state.sampler = train_loader.batch_sampler
    log_every(trainer, len(train_loader))
    if trainer.is_global_zero:  # only now, the inputs read: a bad one leaves a finished VQ-VAE as it was
        (directory / META).unlink(missing_ok=True)
    trainer.fit(module, train_loader, loader(rows["valid"], **batches), ckpt_path=resume_from)
    # the full training state: a rerun of the same command resumes here, with nothing left to train
    trainer.save_checkpoint(checkpoints / LAST, weights_only=False)
    return module, timer.time_elapsed("train")


@holding_lock(run_dir)
def run(cfg, progress: bool = True) -> dict:
    # torch and lightning load here, not with the module: --help answers without them
    import lightning as L

    from .vqvae.codes import build_caches, split_rows
    from .vqvae.metrics import evaluate, informativeness_warning

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    directory = run_dir(cfg)
    tokenizer = get_tokenizer(cfg, progress=progress)
    rows = {split: split_rows(cfg, split, tokenizer) for split in ("train", "valid")}
    made = identity(cfg, tokenizer)  # before training: the train split's checksum, of the file trained on
    module, seconds = train(cfg, tokenizer, rows, made, progress)
    if module.global_rank != 0:
        return {}
    model = module.model.cpu().eval()
    with atomic_dir(model_dir(cfg)) as tmp:
        model.save_pretrained(tmp)

    metrics = evaluate(
        model.to(device_for(cfg.trainer.accelerator)), rows["valid"], batch_size=cfg.vqvae.train.batch_size,
        precision=cfg.trainer.precision, seed=cfg.seed, progress=progress,
    )
    epochs = module.global_step / max(1, module.trainer.num_training_batches)
    metrics.update(
        train_seconds=round(seconds, 1), steps=module.global_step, epochs=round(epochs, 2),
        seconds_per_epoch=round(seconds / max(epochs, 1e-9), 1), continuous_steps=module.continuous_steps,
    )
    write_json(directory / METRICS, metrics)
    write_meta(
        directory, config=vqvae_config(cfg.vqvae), seed=cfg.seed, precision=cfg.trainer.precision,
        limits=settings(cfg, LIMITS), inputs=made["inputs"], identity=made,
        task=cfg.task.name, chunk_size=model.chunk_size, compression=model.compression,
        codebook_size=model.codebook_size, codes_per_chunk=model.codes_per_chunk, model=sha256(model_dir(cfg)),
    )
    print(
        f"VQ-VAE for {cfg.task.name} in {directory}: valid recon_token_acc {metrics['recon_token_acc']:.4f}, "
        f"recon_chunk_exact {metrics['recon_chunk_exact']:.4f}, codebook_usage {metrics['codebook_usage']:.3f}, "
        f"code_informativeness {metrics['code_informativeness']:.3f}; {seconds:.0f} s training"
    )
    warning = informativeness_warning(metrics)
    if warning:
        print(warning)
    build_caches(cfg, progress=progress)
    print(f"codes cached in {directory / 'codes'}")
    return metrics


main = hydra_main(run, reads=("task", "data", "vqvae", "trainer"))

if __name__ == "__main__":
    main()
