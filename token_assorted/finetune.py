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
import warnings
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf

from .cli import hydra_main
from .config import FINETUNE_SETTINGS, PROCESS_LAYOUT, changed_settings, settings
from .data import get_tokenizer, load_dataset
from .data.shards import check_divisible
from .data.splits import load_split, split_file
from .data.tokenizer import tokenizer_checksum
from .divergence import StopOnDivergence
from .evaluation.curve import CURVE, AccuracyCurve
from .errors import ConfigError, StaleInputError
from .io import META, atomic_dir, checkpoint_checksum, read_meta, sha256, write_meta
from .lock import holding_lock
from .resume import LAST, LastCheckpoint, LengthGroupedBatches, ResumeState, checkpoint_to_resume, merged_logs
from .trainer_settings import checked_trainer_settings
from .latent import (
    LatentVocab, add_latent_embeddings, check_mode, code_tokens, extend_tokenizer, needs_codes, stage_for_epoch,
)
from .latent.icot import removal_per_epoch
from .latent.modes import PROMPTED_MODES, examples_change, stage_count
from .latent.pause import PAUSE
from .latent.special import add_mean_rows, add_special_tokens
from .latent.vocab import LATENT_PATTERN, latent_vocab
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
from .thoughts import CoconutCollator, CoconutModule, SoftCoTCollator, SoftCoTModule, add_coconut_tokens, write_thoughts
from .thoughts import softcot
from .lm.adapters import for_saving, prepare_for_training, trainable_parameters
from .lm.base import base_dir, starting_config

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


def latent_shape(cfg) -> LatentCodes:
    """Only the latent shape, from cfg.vqvae: for modes that never show a latent code."""
    from .vqvae import codes_per_chunk

    v = cfg.vqvae
    return LatentCodes(v.chunk_size, v.compression, codes_per_chunk(v), v.codebook_size)


def uses_vqvae(cfg) -> bool:
    """The fine-tune reads the VQ-VAE: for its codes, or to start the latent embeddings from its codebook (SoftCoT
    trains no latent rows: its frozen LMs are trained apart)."""
    if cfg.mode.name == "softcot":
        return False
    return needs_codes(cfg.mode.name) or cfg.model.latent_init == "codebook"


def latent_codes(cfg) -> LatentCodes:
    """The VQ-VAE's codes where the fine-tune uses them; else only the shape, from cfg.vqvae."""
    return load_latent_codes(cfg) if uses_vqvae(cfg) else latent_shape(cfg)


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


def check_loader_workers(cfg) -> None:
    """Refuse DataLoader workers where they would train on stale samples: the schedule moves on in this process,
    mid-epoch under a step budget, and a worker's copy of the collator would not follow."""
    workers = cfg.trainer.num_workers
    if workers and examples_change(cfg.mode.name):
        raise ConfigError(
            f"trainer.num_workers={workers}: mode {cfg.mode.name} draws its samples afresh as training goes on, "
            "which DataLoader workers cannot follow; use trainer.num_workers=0 (a batch of 256 collates in about "
            "5 ms)"
        )


def make_loaders(data: dict, collators: dict, cfg, world_size: int) -> tuple[list, LengthGroupedBatches]:
    """Training batches hold `finetune.batch_size` samples of similar length in all, split over the processes
    (data/shards.py), in an order a resumed run picks up midway (resume.py); every process validates on the whole
    valid split, so val_loss is the same figure as on one process."""
    optim = cfg.finetune
    check_divisible(optim.batch_size, world_size, "finetune.batch_size")
    train, valid = data["train"], data["valid"]
    order = LengthGroupedBatches(len(train), epoch_lengths(train, collators["train"], cfg), optim.batch_size,
                                 cfg.seed, optim.length_window)
    workers = cfg.trainer.num_workers
    train_loader = torch.utils.data.DataLoader(
        train, batch_sampler=order, collate_fn=collators["train"], num_workers=workers
    )
    # val_loss is a mean over tokens, whatever the batches: sorted by length (epoch 0's draws, which validation
    # keeps), they hold little padding
    valid_lengths = epoch_lengths(valid, collators["valid"], cfg)(0)
    valid_loader = torch.utils.data.DataLoader(
        [valid[i] for i in sorted(range(len(valid)), key=valid_lengths.__getitem__)], batch_size=optim.batch_size,
        collate_fn=collators["valid"], num_workers=workers,
    )
    return [train_loader, valid_loader], order


def epoch_lengths(rows: list[dict], collator, cfg) -> Callable[[int], list[int]]:
    """lengths(epoch): the samples' lengths as the collator draws them in that epoch, at the stage the schedule
    gives it (under a step budget the stage may move on within the epoch: then some batches hold more padding)."""
    mode = OmegaConf.to_object(cfg.mode)

    @lru_cache(maxsize=1)  # len(sampler) makes the epoch's batches again: draw them once an epoch
    def lengths(epoch: int) -> list[int]:
        stage = stage_for_epoch(mode, epoch, cfg.finetune.epochs)
        return [collator.sample_length(row, epoch, stage) for row in rows]

    return lengths


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
            max_steps=-1 if cfg.finetune.max_steps is None else cfg.finetune.max_steps,
            gradient_clip_val=cfg.finetune.grad_clip,
            log_every_n_steps=t.log_every_n_steps,
            limit_train_batches=t.limit_train_batches,
            limit_val_batches=t.limit_val_batches,
            callbacks=[
                *callbacks,
                StopOnDivergence(f"finetune.lr={cfg.finetune.lr}"),
                LastCheckpoint(work / "checkpoints", t.checkpoint_every_n_steps),
            ],
            # one version per attempt (a resumed run adds one), flushed with each checkpoint: merged at the end
            logger=CSVLogger(work, name="logs", flush_logs_every_n_steps=t.checkpoint_every_n_steps),
            default_root_dir=work,
            use_distributed_sampler=False,  # make_loaders shards the batches itself, the same way on 1 or N processes
            enable_progress_bar=progress,
            enable_model_summary=progress,
        )


def run_identity(cfg, inputs: dict) -> dict:
    """What a checkpoint must have been made with for a rerun to resume from it."""
    return {"settings": settings(cfg, FINETUNE_SETTINGS + PROCESS_LAYOUT), "inputs": inputs}


def full_weights(trainer: L.Trainer) -> dict:
    """save_pretrained's arguments for the whole model. Under FSDP each process holds a shard; gathering the full
    state dict is a collective, so every process calls this; elsewhere the model in memory is already whole."""
    from lightning.pytorch.strategies import FSDPStrategy

    if not isinstance(trainer.strategy, FSDPStrategy):
        return {}
    state = trainer.strategy.lightning_module_state_dict()
    return {"state_dict": {name.removeprefix("model."): value for name, value in state.items()}}


@dataclass
class Setup:
    """What one mode trains: the module (holding the model), its tokenizer, data, collators and extra outputs."""

    module: CausalLMModule
    tokenizer: object
    data: dict[str, list[dict]]
    collators: dict[str, object]
    latents: LatentCodes
    vocab: LatentVocab | None  # None where the model's tokenizer has no latent tokens (a pretrained SoftCoT main LM)
    inputs: dict[str, str]  # checksums of the inputs beyond the train split and the tokenizer
    save: Callable[[Path, int], dict]  # (output dir, final stage) -> writes the mode's extra files, returns meta fields


def no_extra_files(directory: Path, stage: int) -> dict:
    return {}


def pause_files(directory: Path, stage: int, *, pause_id: int, count: int) -> dict:
    write_thoughts(directory, "pause", count, pause_id=pause_id)
    return {}


def icot_meta(directory: Path, stage: int, *, per_epoch: int) -> dict:
    return {"removed_per_epoch": per_epoch, "removed_in_last_epoch": stage * per_epoch}


def coconut_files(directory: Path, stage: int, *, ids, per_step: int) -> dict:
    """The thoughts of the stage training ended in: what evaluation uses (never chosen at evaluation time)."""
    thoughts = stage * per_step
    write_thoughts(directory, "coconut", thoughts, stage=stage, begin_id=ids.begin, end_id=ids.end,
                   thought_id=ids.thought)
    return {"thoughts": thoughts}


def lm_setup(cfg, mode, progress: bool) -> Setup:
    """Every mode that trains the whole LM: the Token Assorted modes, the baselines, pause, icot and coconut."""
    start = starting_config(cfg)  # the base model, where base.use
    tokenizer = get_tokenizer(start, progress=progress)
    model = build_model(start.model, tokenizer)
    latents = latent_codes(cfg)
    vocab = extend_tokenizer(tokenizer, latents.codebook_size)
    if cfg.base.use:  # the base model never saw its latent rows: they start here, as they would on a new model
        vocab = replace(vocab, new_ids=tuple(vocab.ids))
    limit = max_positions(model.config, cfg.model)
    data = {split: load_dataset(cfg, split, tokenizer, max_length=limit).to_list() for split in SPLITS}
    if latents.splits is not None:
        check_aligned(latents, data)
    init_latent_embeddings(model, vocab, cfg.model.latent_init, latents, data["train"])
    inputs = {"vqvae": latents.checksum} if latents.checksum else {}
    if cfg.base.use:
        inputs["base"] = checkpoint_checksum(base_dir(cfg))
    save = no_extra_files
    pause_id = None
    if mode.name == "pause":
        (pause_id,), new = add_special_tokens(tokenizer, [PAUSE])
        add_mean_rows(model, new)
        save = partial(pause_files, pause_id=pause_id, count=mode.pause_tokens)
    if mode.name == "icot":
        longest = max(len(row["reasoning_ids"]) for row in data["train"])
        mode = replace(mode, removed_per_epoch=removal_per_epoch(mode.removed_per_epoch, longest, cfg.finetune.epochs))
        save = partial(icot_meta, per_epoch=mode.removed_per_epoch)
    set_generation_ids(model, tokenizer, cfg.task.max_new_tokens)
    model = prepare_for_training(model, cfg.model)

    if mode.name == "coconut":
        ids = add_coconut_tokens(tokenizer, model)
        collators = {
            split: CoconutCollator(
                mode, ids, pad_id=tokenizer.pad_token_id, max_length=limit, file=split_file(cfg, split)
            )
            for split in SPLITS
        }
        save = partial(coconut_files, ids=ids, per_step=mode.thoughts_per_step)
        return Setup(CoconutModule(model, cfg.finetune), tokenizer, data, collators, latents, vocab, inputs, save)
    collators = {
        split: MixingCollator(
            mode, vocab, latents.splits[split] if latents.splits else None,
            chunk_size=latents.chunk_size, per_chunk=latents.per_chunk, pad_id=tokenizer.pad_token_id,
            max_length=limit, seed=cfg.seed, file=split_file(cfg, split), pause_id=pause_id,
        )
        for split in SPLITS
    }
    return Setup(CausalLMModule(model, cfg.finetune), tokenizer, data, collators, latents, vocab, inputs, save)


def softcot_setup(cfg, mode) -> Setup:
    """SoftCoT: the frozen main and assistant LMs, and the projection between them that trains."""
    main, tokenizer, assistant, assistant_tokenizer = softcot.load_models(cfg)
    limit = max_positions(main.config, cfg.model)
    data = {split: load_dataset(cfg, split, tokenizer, max_length=limit).to_list() for split in SPLITS}
    prompts = {split: softcot.assistant_prompts(assistant_tokenizer, load_split(cfg, split)) for split in SPLITS}
    collators = {
        split: SoftCoTCollator(
            mode.soft_thoughts, prompts[split], pad_id=tokenizer.pad_token_id,
            assistant_pad_id=assistant_tokenizer.pad_token_id, max_length=limit, file=split_file(cfg, split),
        )
        for split in SPLITS
    }
    projection = softcot.make_projection(assistant, main)
    set_generation_ids(main, tokenizer, cfg.task.max_new_tokens)
    vocab = latent_vocab(tokenizer) if any(LATENT_PATTERN.fullmatch(t) for t in tokenizer.get_vocab()) else None

    def save(directory: Path, stage: int) -> dict:
        softcot.save_softcot(directory, assistant, assistant_tokenizer, projection)
        write_thoughts(directory, "softcot", mode.soft_thoughts)
        return {"main": str(softcot.main_dir(cfg)), "assistant": str(softcot.assistant_dir(cfg))}

    module = SoftCoTModule(main, assistant, projection, cfg.finetune)
    return Setup(module, tokenizer, data, collators, latent_shape(cfg), vocab, softcot.softcot_inputs(cfg), save)


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


def learning_curve(cfg, tokenizer, work: Path) -> list:
    """The callback that writes curve.csv where curve.every is set (evaluation/curve.py); none otherwise."""
    if not cfg.curve.every:
        return []
    if cfg.trainer.strategy == "fsdp":
        raise ConfigError("curve.every: the curve generates on one process, which FSDP's sharded model cannot; "
                          "leave curve.every at 0 under trainer=fsdp")
    if cfg.mode.name in PROMPTED_MODES:
        raise ConfigError(f"curve.every: mode {cfg.mode.name}'s evaluation feeds it thoughts, which the curve's "
                          "plain greedy decoding does not; leave curve.every at 0 for it")
    records = load_split(cfg, "valid")[: cfg.curve.records]
    return [AccuracyCurve(
        cfg.curve.every, records, tokenizer, cfg.task.name, max_new_tokens=cfg.task.max_new_tokens,
        batch_size=cfg.eval.batch_size, samples_per_step=cfg.finetune.batch_size, path=work / CURVE,
    )]


def note_unreached_stages(mode, epochs: int) -> None:
    """Say so where the curriculum ends before its last stage: the schedule spreads its stages over the epochs."""
    stages, end = stage_count(mode), stage_for_epoch(mode, epochs - 1, epochs)
    if stages and end < stages - 1 and rank_zero_only.rank == 0:
        print(f"note: {mode.name} ends in stage {end} of stages 0-{stages - 1} with finetune.epochs={epochs}: "
              "the later stages need more epochs (or a smaller mode.epochs_per_stage)", flush=True)


def note_replacing(final: Path, cfg) -> None:
    """Say so where this run will replace a model made under other settings: one place per task and mode."""
    if (final / META).is_file() and rank_zero_only.rank == 0:
        changed = changed_settings(read_meta(final)["config"], cfg, FINETUNE_SETTINGS)
        if changed:
            print(f"note: replacing {final}, fine-tuned under other settings ({', '.join(changed)}); "
                  "out_dir=DIR keeps runs apart", flush=True)


@holding_lock(finetune_dir)
def run(cfg, progress: bool = True) -> Path:
    mode = OmegaConf.to_object(cfg.mode)
    check_mode(mode)
    note_unreached_stages(mode, cfg.finetune.epochs)
    check_loader_workers(cfg)  # before the data is tokenized and the model built
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*dataloader is not resumable.*")  # ResumeState resumes it
    warnings.filterwarnings("ignore", ".*module\\(s\\) in eval mode.*")  # SoftCoT's frozen models, on purpose

    setup = softcot_setup(cfg, mode) if mode.name == "softcot" else lm_setup(cfg, mode, progress)
    module, tokenizer, model = setup.module, setup.tokenizer, setup.module.model
    inputs = {"train": sha256(split_file(cfg, "train")), "tokenizer": tokenizer_checksum(tokenizer), **setup.inputs}

    final = finetune_dir(cfg)
    note_replacing(final, cfg)
    work = final.with_name(final.name + ".partial")
    resume_from = checkpoint_to_resume(work / "checkpoints", run_identity(cfg, inputs))
    if resume_from is None:  # a curve of an earlier run under other settings is not this one's
        (work / CURVE).unlink(missing_ok=True)
    draws = EpochDraws(mode, cfg.finetune.epochs, setup.collators["train"], setup.collators["valid"])
    resume_state, timer = ResumeState(), Timer()  # the Timer's checkpointed state counts a crashed attempt's time too
    callbacks = [draws, resume_state, timer, *learning_curve(cfg, tokenizer, work)]
    trainer = make_trainer(cfg, work, callbacks, progress)
    loaders, resume_state.sampler = make_loaders(setup.data, setup.collators, cfg, trainer.world_size)
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
            inputs=inputs,
            mode=mode.name,
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
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"wrote {final} ({mode.name}: {parameter_count(model):,} parameters, {tokens_seen:,} training tokens "
        f"in {seconds:.0f} s, val_loss {metrics.get('val_loss', float('nan')):.4f})"
    )
    return final


main = hydra_main(run)


if __name__ == "__main__":
    main()
