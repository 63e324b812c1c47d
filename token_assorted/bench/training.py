"""Training speed: fine-tuning tokens/s in fp32 and under bf16 autocast (pair by pair), the time to collate a
batch, VQ-VAE training and encoding samples/s, and on a GPU the model FLOPs utilisation of fine-tuning
`model=gpt2-small`.

The timed loop is the work of a training step (forward, backward, AdamW step) on batches the fine-tuning
collator makes; one untimed step first, so start-up costs (and the VQ-VAE's k-means) stay out of the figure.
"""

from __future__ import annotations

import contextlib
import time

import torch

from ..data import get_tokenizer, load_split
from ..data.dataset import encode_batch
from ..errors import ConfigError
from ..finetune import epoch_lengths
from ..latent import LatentLayout, extend_tokenizer
from ..lm.batches import MixingCollator
from ..lm.model import build_model, max_positions, planned_config
from ..methods import method_for
from ..precision import device_for
from ..resume import LengthGroupedBatches
from ..vqvae.checkpoint import build_vqvae, load_vqvae, trained_precision
from ..vqvae.model import codes_per_chunk
from ..vqvae.chunks import loader
from ..vqvae.metrics import encode_rows
from .measure import measured, ratio, spread

# dense bf16 peak FLOP/s by device name, for MFU when bench.peak_tflops is not given
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0, "L4": 121.0}


def lm_setup(cfg):
    """(collate, new_model) for cfg's model and mode: collate(encoded rows) -> batches of finetune.batch_size, of
    records of similar length as fine-tuning makes them; new_model() -> the fine-tuning model, the same weights
    every call."""
    tokenizer = get_tokenizer(cfg, progress=False)
    vocab = extend_tokenizer(tokenizer, cfg.vqvae.codebook_size)

    def new_model():
        torch.manual_seed(cfg.seed)
        return build_model(cfg.model, tokenizer)

    limit = max_positions(planned_config(cfg.model, tokenizer), cfg.model)  # as fine-tuning: what the model takes
    method = method_for(cfg.mode)
    layout = LatentLayout(vocab, cfg.vqvae.chunk_size, codes_per_chunk(cfg.vqvae))
    collator = MixingCollator(method, layout, None, pad_id=tokenizer.pad_token_id, max_length=limit, seed=cfg.seed)
    size = cfg.finetune.batch_size

    def collate(rows: list[dict]) -> list[dict]:
        rows = [{**row, "index": index} for index, row in enumerate(rows)]
        order = LengthGroupedBatches(len(rows), epoch_lengths(rows, collator, cfg, method), size, cfg.seed,
                                     cfg.finetune.length_window)
        return [collator([rows[i] for i in batch]) for batch in order.batches()]

    return collate, new_model


def lm_batches(cfg, steps: int):
    """(new_model, batches): `steps` batches of the task's train split, collated as cfg's mode says."""
    collate, new_model = lm_setup(cfg)
    return new_model, collate(train_rows(cfg, steps * cfg.finetune.batch_size))


def train_rows(cfg, count: int) -> list[dict]:
    """The first `count` training records, encoded (only these: a whole split takes long to tokenize)."""
    tokenizer = get_tokenizer(cfg, progress=False)
    return encode_batch(tokenizer, load_split(cfg, "train")[:count])


def autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def timed_steps(step, batches, device) -> dict:
    """Time `step` on every batch, after an untimed one on the first (start-up costs, the VQ-VAE's k-means):
    seconds, peak_mb, and elapsed, the seconds from the start to the end of each step."""
    if not batches:
        raise ConfigError("a training-speed run needs at least one batch: more training records or bench.train_steps")
    step(batches[0])
    elapsed = []
    with measured(device) as cost:
        start = time.perf_counter()
        for batch in batches:
            step(batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed.append(time.perf_counter() - start)
    return {**cost, "elapsed": elapsed}


def train_steps(model, batches, device, bf16: bool) -> dict:
    """Optimizer steps of the causal LM; tokens/s counts non-padding input tokens."""
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(batch):
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device, bf16):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    cost = timed_steps(step, batches, device)
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    return {"tokens_per_s": tokens / cost["seconds"], "peak_mb": cost["peak_mb"], "seconds": cost["seconds"],
            "elapsed": cost["elapsed"]}


def vqvae_steps(model, batches, device, bf16: bool, lr: float) -> float:
    """Optimizer steps of the VQ-VAE, bottleneck on; returns records per second."""
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)

    def step(batch):
        with autocast(device, bf16):
            loss = model(batch.to(device), quantize=True).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    cost = timed_steps(step, batches, device)
    return sum(len(b) for b in batches) / cost["seconds"]


def finetune_precisions(cfg, repeats: int, steps: int, bf16_steps: int | None = None) -> dict:
    """fp32 on `steps` batches and bf16 autocast on the first `bf16_steps` of them (all by default; 0: none) back
    to back in each repeat, on fresh models with the same weights; bf16's speedup is against fp32's time on the
    same batches. And the milliseconds the fine-tuning collator takes per batch, which a GPU waits for on every
    step."""
    device = device_for(cfg.trainer.accelerator)
    collate, new_model = lm_setup(cfg)
    rows = train_rows(cfg, steps * cfg.finetune.batch_size)
    fp32, bf16, speedup, collation = [], [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        batches = collate(rows)
        collation.append(1000 * (time.perf_counter() - start) / len(batches))
        bf16_batches = batches[:bf16_steps]
        full = train_steps(new_model(), batches, device, bf16=False)
        fp32.append(full["tokens_per_s"])
        if bf16_batches:
            half = train_steps(new_model(), bf16_batches, device, bf16=True)
            bf16.append(half["tokens_per_s"])
            speedup.append(full["elapsed"][len(bf16_batches) - 1] / half["seconds"])
    return {
        "finetune_tokens_per_s_fp32": spread(fp32),
        "finetune_tokens_per_s_bf16": spread(bf16),
        "bf16_speedup": spread(speedup),
        "bf16_steps": len(bf16_batches),
        "collate_ms_per_batch": spread(collation),
    }


def vqvae_speed(cfg, repeats: int, steps: int, encode_records: int, with_bf16: bool = True) -> dict:
    """Samples/s of VQ-VAE training in fp32 and (unless with_bf16 is false) under bf16 autocast (fresh models with
    the same weights, back to back in each repeat), and of encoding with the trained one under the precision it
    trained with, as the code caches are made."""
    device = device_for(cfg.trainer.accelerator)
    tokenizer = get_tokenizer(cfg, progress=False)
    size = cfg.vqvae.train.batch_size
    rows = [(r["prompt_ids"], r["reasoning_ids"]) for r in train_rows(cfg, max(steps * size, encode_records))]
    batches = list(loader(rows[: steps * size], batch_size=size, chunk_size=cfg.vqvae.chunk_size,
                          pad_id=tokenizer.pad_token_id, eos_id=tokenizer.eos_token_id, seed=cfg.seed,
                          window=cfg.vqvae.train.length_window))
    fp32, bf16, encoding = [], [], []
    for _ in range(repeats):
        for speeds, in_bf16 in ((fp32, False), (bf16, True)) if with_bf16 else ((fp32, False),):
            torch.manual_seed(cfg.seed)
            speeds.append(vqvae_steps(build_vqvae(cfg.vqvae, tokenizer), batches, device, in_bf16, cfg.vqvae.train.lr))

        trained = load_vqvae(cfg, tokenizer).to(device)
        subset = rows[:encode_records]
        with measured(device) as cost:
            encode_rows(trained, subset, batch_size=size, precision=trained_precision(cfg))
        encoding.append(len(subset) / cost["seconds"])
    return {
        "vqvae_train_samples_per_s_fp32": spread(fp32),
        "vqvae_train_samples_per_s_bf16": spread(bf16),
        "vqvae_bf16_speedup": spread(ratio(b, f) for f, b in zip(fp32, bf16)),
        "vqvae_encode_samples_per_s": spread(encoding),
    }


def peak_tflops(cfg, device: torch.device) -> float | None:
    if cfg.bench.peak_tflops:
        return cfg.bench.peak_tflops
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


def gpu_mfu(cfg, gpt2_cfg, repeats: int, steps: int) -> dict | None:
    """On CUDA: bf16 fine-tuning of GPT-2 small, tokens/s and MFU = 6 * parameters * tokens/s / peak FLOP/s
    (the usual estimate; attention's own FLOPs left out). None without a GPU."""
    device = device_for(cfg.trainer.accelerator)
    if device.type != "cuda":
        return None
    new_model, batches = lm_batches(gpt2_cfg, steps)
    parameters = sum(p.numel() for p in new_model().parameters())
    speeds = [train_steps(new_model(), batches, device, bf16=True)["tokens_per_s"] for _ in range(repeats)]
    peak = peak_tflops(cfg, device)
    return {
        "device": torch.cuda.get_device_name(device),
        "parameters": parameters,
        "gpt2_small_tokens_per_s_bf16": spread(speeds),
        "peak_tflops": peak,
        "mfu": spread(6 * parameters * s / (peak * 1e12) for s in speeds) if peak else spread([]),
    }
