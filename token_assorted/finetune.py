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
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from omegaconf import OmegaConf

from .cli import hydra_main
from .config import FINETUNE_SETTINGS, settings
from .data.splits import load_split, split_file
from .data.tokenizer import tokenizer_checksum
from .errors import ConfigError
from .identity import changes, is_current as identity_is_current, made_from, recorded, to_resume
from .io import atomic_dir, sha256, write_meta
from .layout import finetune_dir
from .lock import holding_lock
from .methods import method_class, method_for
from .trainer_settings import TENSORBOARD, log_every, loggers, make_trainer as trainer_for

if TYPE_CHECKING:  # torch and lightning load when a run starts, not with this module: --help answers without them
    import lightning as L

    from .latent import LatentVocab
    from .lm.setup import LatentCodes
    from .resume import LengthGroupedBatches


def check_loader_workers(cfg, method) -> None:
    """Refuse DataLoader workers where they would train on stale samples: the schedule moves on in this process,
    mid-epoch under a step budget, and a worker's copy of the collator would not follow."""
    workers = cfg.trainer.num_workers
    if workers and method.samples_change:
        raise ConfigError(
            f"trainer.num_workers={workers}: mode {method.name} draws its samples afresh as training goes on, "
            "which DataLoader workers cannot follow; use trainer.num_workers=0 (collating a batch takes milliseconds)"
        )


def make_loaders(data: dict, collators: dict, cfg, method, world_size: int) -> tuple[list, LengthGroupedBatches]:
    """Training batches hold `finetune.batch_size` samples of similar length in all, split over the processes
    (data/shards.py), in an order a resumed run picks up midway (resume.py); every process validates on the whole
    valid split, so val_loss is the same figure as on one process."""
    import torch

    from .data.shards import check_divisible
    from .resume import LengthGroupedBatches

    optim = cfg.finetune
    check_divisible(optim.batch_size, world_size, "finetune.batch_size")
    train, valid = data["train"], data["valid"]
    order = LengthGroupedBatches(len(train), epoch_lengths(train, collators["train"], cfg, method), optim.batch_size,
                                 cfg.seed, optim.length_window)
    workers = cfg.trainer.num_workers
    train_loader = torch.utils.data.DataLoader(
        train, batch_sampler=order, collate_fn=collators["train"], num_workers=workers
    )
    # val_loss is a mean over tokens, whatever the batches: sorted by length (epoch 0's draws, which validation
    # keeps), they hold little padding
    valid_lengths = epoch_lengths(valid, collators["valid"], cfg, method)(0)
    valid_loader = torch.utils.data.DataLoader(
        [valid[i] for i in sorted(range(len(valid)), key=valid_lengths.__getitem__)], batch_size=optim.batch_size,
        collate_fn=collators["valid"], num_workers=workers,
    )
    return [train_loader, valid_loader], order


def epoch_lengths(rows: list[dict], collator, cfg, method) -> Callable[[int], list[int]]:
    """lengths(epoch): the samples' lengths as the collator draws them in that epoch, at the stage the schedule
    gives it (under a step budget the stage may move on within the epoch: then some batches hold more padding)."""

    @lru_cache(maxsize=1)  # len(sampler) makes the epoch's batches again: draw them once an epoch
    def lengths(epoch: int) -> list[int]:
        stage = method.stage_for_epoch(epoch, cfg.finetune.epochs)
        return [collator.sample_length(row, epoch, stage) for row in rows]

    return lengths


def make_trainer(cfg, work: Path, callbacks: list, progress: bool) -> L.Trainer:
    from .divergence import StopOnDivergence
    from .resume import LastCheckpoint

    t = cfg.trainer
    return trainer_for(
        t, cfg.finetune, progress=progress, default_root_dir=work,
        callbacks=[
            *callbacks,
            StopOnDivergence(f"finetune.lr={cfg.finetune.lr}"),
            LastCheckpoint(work / "checkpoints", t.checkpoint_every_n_steps),
        ],
        # one version per attempt (a resumed run adds one), flushed with each checkpoint: merged at the end
        logger=loggers(t, work, f"{cfg.task.name}/{cfg.mode.name}", flush_every=t.checkpoint_every_n_steps),
    )


def identity(cfg) -> dict:
    """What the fine-tuned model is made from (identity.py): the settings that shape it, and the checksums of the
    train split and of the models the method reads (its base model, its VQ-VAE)."""
    train = split_file(cfg, "train")
    inputs = {"train": sha256(train) if train.is_file() else None, **method_class(cfg.mode.name).inputs(cfg)}
    return made_from(settings(cfg, FINETUNE_SETTINGS), inputs)


def is_current(cfg) -> bool:
    return identity_is_current(finetune_dir(cfg), lambda: identity(cfg))


def full_weights(trainer: L.Trainer) -> dict:
    """save_pretrained's arguments for the whole model. Under FSDP each process holds a shard; gathering the full
    state dict is a collective, so every process calls this; elsewhere the model in memory is already whole."""
    from lightning.pytorch.strategies import FSDPStrategy

    if not isinstance(trainer.strategy, FSDPStrategy):
        return {}
    state = trainer.strategy.lightning_module_state_dict()
    return {"state_dict": {name.removeprefix("model."): value for name, value in state.items()}}


def latent_meta(latents: LatentCodes, vocab: LatentVocab | None) -> dict:
    meta = {
        "chunk_size": latents.chunk_size,
        "compression": latents.compression,
        "codes_per_chunk": latents.per_chunk,
        "codebook_size": latents.codebook_size,
    }
    if vocab is not None:
        meta["latent_ids"] = {"first_code": vocab.first_code_id, "begin": vocab.begin_id, "end": vocab.end_id}
    return meta


def learning_curve(cfg, method, tokenizer, work: Path) -> list:
    """The callback that writes curve.csv where curve.every is set (evaluation/accuracy_curve.py); none otherwise."""
    from .evaluation.accuracy_curve import AccuracyCurve
    from .evaluation.curve import CURVE

    if not cfg.curve.every:
        return []
    if cfg.trainer.strategy == "fsdp":
        raise ConfigError("curve.every: the curve generates on one process, which FSDP's sharded model cannot; "
                          "leave curve.every at 0 under trainer=fsdp")
    if method.prompted:
        raise ConfigError(f"curve.every: mode {method.name}'s evaluation feeds it thoughts, which the curve's "
                          "plain greedy decoding does not; leave curve.every at 0 for it")
    records = load_split(cfg, "valid")[: cfg.curve.records]
    return [AccuracyCurve(
        cfg.curve.every, records, tokenizer, cfg.task.name, max_new_tokens=cfg.task.max_new_tokens,
        batch_size=cfg.eval.batch_size, code_choice=cfg.eval.code_choice, samples_per_step=cfg.finetune.batch_size,
        path=work / CURVE,
    )]


def note_unreached_stages(method, epochs: int) -> None:
    """Say so where the curriculum ends before its last stage: the schedule spreads its stages over the epochs."""
    from lightning.pytorch.utilities import rank_zero_only

    stages, end = method.stage_count(), method.stage_for_epoch(epochs - 1, epochs)
    if stages and end < stages - 1 and rank_zero_only.rank == 0:
        print(f"note: {method.name} ends in stage {end} of stages 0-{stages - 1} with finetune.epochs={epochs}: "
              "the later stages need more epochs (or a smaller mode.epochs_per_stage)", flush=True)


def note_replacing(final: Path, cfg) -> None:
    """Say so where this run will replace a model made under other settings: one place per task and mode."""
    from lightning.pytorch.utilities import rank_zero_only

    made = recorded(final)
    if made is not None and rank_zero_only.rank == 0:
        changed = changes(made, made_from(settings(cfg, FINETUNE_SETTINGS), {}), within=("settings",))
        if changed:
            print(f"note: replacing {final}, fine-tuned under other settings ({', '.join(changed)}); "
                  "out_dir=DIR keeps runs apart", flush=True)


@holding_lock(finetune_dir)
def run(cfg, progress: bool = True) -> Path:
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import Timer

    from .evaluation.curve import CURVE
    from .lm.batches import EpochDraws
    from .lm.model import parameter_count
    from .lm.adapters import for_saving, trainable_parameters
    from .resume import LAST, ResumeState, checkpoint_to_resume, merged_logs

    method = method_for(cfg.mode)
    note_unreached_stages(method, cfg.finetune.epochs)
    check_loader_workers(cfg, method)  # before the data is tokenized and the model built
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    setup = method.setup(cfg, progress)
    module, tokenizer, model = setup.module, setup.tokenizer, setup.module.model
    made = identity(cfg)  # after setup, which says what is missing in words

    final = finetune_dir(cfg)
    note_replacing(final, cfg)
    work = final.with_name(final.name + ".partial")
    resume_from = checkpoint_to_resume(work / "checkpoints", to_resume(made, cfg))
    if resume_from is None:  # a curve of an earlier run under other settings is not this one's
        (work / CURVE).unlink(missing_ok=True)
    draws = EpochDraws(method, cfg.finetune.epochs, setup.collators["train"], setup.collators["valid"])
    resume_state, timer = ResumeState(), Timer()  # the Timer's checkpointed state counts a crashed attempt's time too
    callbacks = [draws, resume_state, timer, *learning_curve(cfg, method, tokenizer, work)]
    trainer = make_trainer(cfg, work, callbacks, progress)
    loaders, resume_state.sampler = make_loaders(setup.data, setup.collators, cfg, method, trainer.world_size)
    log_every(trainer, len(loaders[0]))
    trainer.fit(module, *loaders, ckpt_path=resume_from)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    if module.validated_at_step != trainer.global_step:
        # the final weights' val_loss: a step budget ends training mid-epoch, after the last epoch's validation
        trainer.validate(module, loaders[1], verbose=False)
        metrics.update({name: float(value) for name, value in trainer.callback_metrics.items()})
    # the full training state: the same command run again after a crash before the model is saved resumes here,
    # with nothing left to train
    trainer.save_checkpoint(work / "checkpoints" / LAST, weights_only=False)
    seconds = timer.time_elapsed("train")
    # each process counted its own batches; every process must take part in the sum
    seen = torch.tensor(float(module.tokens_seen), device=trainer.strategy.root_device)
    tokens_seen = int(trainer.strategy.reduce(seen, reduce_op="sum"))
    weights = full_weights(trainer)
    if not trainer.is_global_zero:
        return final

    model = for_saving(model)
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp, **weights)
        tokenizer.save_pretrained(tmp)
        extra = setup.save(tmp, draws.stage)
        attempts = sorted(work.glob("logs/version_*/metrics.csv"), key=lambda f: int(f.parent.name.split("_")[1]))
        (tmp / "train_log.csv").write_text(merged_logs(attempts), encoding="utf-8")
        if (work / CURVE).is_file():
            shutil.copy(work / CURVE, tmp / CURVE)
        write_meta(
            tmp,
            config=OmegaConf.to_container(cfg, resolve=True),
            seed=cfg.seed,
            inputs={**made["inputs"], "tokenizer": tokenizer_checksum(tokenizer)},
            identity=made,
            mode=method.name,
            **latent_meta(setup.latents, setup.vocab),
            parameters=parameter_count(model),
            trainable_parameters=trainable_parameters(module),
            tokens_seen=tokens_seen,
            steps=trainer.global_step,
            epochs=trainer.current_epoch,
            curriculum_stage=draws.stage,
            train_seconds=round(seconds, 2),
            tokens_per_second=round(tokens_seen / seconds, 1),
            final_metrics=metrics,
            **extra,
        )
    # only now: until the model is saved, a rerun needs the checkpoints where it resumes from them
    shutil.move(work / "checkpoints", final / "checkpoints")
    if (work / TENSORBOARD).is_dir():  # trainer.logger=tensorboard: the curves kept beside the model
        shutil.move(work / TENSORBOARD, final / TENSORBOARD)
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"wrote {final} ({method.name}: {parameter_count(model):,} parameters, {tokens_seen:,} training tokens "
        f"in {seconds:.0f} s, val_loss {metrics.get('val_loss', float('nan')):.4f})"
    )
    return final


main = hydra_main(run, reads=("task", "data", "model", "mode", "base", "finetune", "vqvae.dir", "trainer", "curve"))


if __name__ == "__main__":
    main()
