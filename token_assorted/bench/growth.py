"""How cost grows with the data: data generation, VQ-VAE encoding and one fine-tuning epoch at 1x, 2x, 4x records.

Each size's time and peak memory is the median of the repeats; the exponent b of time ~ records^b is fitted
over the sizes (1 = linear).
"""

from __future__ import annotations

from ..data import get_tokenizer
from ..data.dataset import encode_batch
from ..data.splits import task_params
from ..precision import device_for
from ..tasks import get_task
from ..vqvae.checkpoint import load_vqvae, trained_precision
from ..vqvae.metrics import encode_rows
from .measure import fit_exponent, measured, spread
from .training import lm_setup, train_steps

STAGES = ("generate_data", "vqvae_encode", "finetune_epoch")


def generate(cfg, records: int) -> list[dict]:
    return get_task(cfg.task.name).generate(
        task_params(cfg.task), {"train": records, "valid": 0, "test": 0}, seed=cfg.data.seed, progress=False
    )["train"]


def one_size(cfg, records: int, device) -> dict[str, dict]:
    """{stage: {seconds, peak_mb}} for `records` records."""
    figures = {}
    with measured(device) as cost:
        generated = generate(cfg, records)
    figures["generate_data"] = cost

    tokenizer = get_tokenizer(cfg, progress=False)
    vqvae = load_vqvae(cfg, tokenizer).to(device)
    encoded = encode_batch(tokenizer, generated)
    rows = [(e["prompt_ids"], e["reasoning_ids"]) for e in encoded]
    with measured(device) as cost:
        encode_rows(vqvae, rows, batch_size=cfg.vqvae.train.batch_size, precision=trained_precision(cfg))
    figures["vqvae_encode"] = cost

    collate, new_model = lm_setup(cfg)
    batches = collate(encoded)
    bf16 = str(cfg.trainer.precision).startswith("bf16")
    epoch = train_steps(new_model(), batches, device, bf16=bf16)
    figures["finetune_epoch"] = {"seconds": epoch["seconds"], "peak_mb": epoch["peak_mb"]}
    return figures


def growth(cfg, repeats: int, base: int, scales: list[int]) -> dict:
    """cfg: the baseline's stage; its epochs train on plain CoT samples, and the task's VQ-VAE encodes."""
    device = device_for(cfg.trainer.accelerator)
    sizes = [base * scale for scale in scales]
    runs = {size: [one_size(cfg, size, device) for _ in range(repeats)] for size in sizes}
    result = {}
    for stage in STAGES:
        seconds = [spread(run[stage]["seconds"] for run in runs[size]) for size in sizes]
        memory = [spread(run[stage]["peak_mb"] for run in runs[size]) for size in sizes]
        result[stage] = {
            "scales": list(scales), "records": sizes, "seconds": seconds, "peak_mb": memory,
            "time_exponent": fit_exponent(sizes, [s["median"] for s in seconds]),
            "memory_exponent": fit_exponent(sizes, [m["median"] for m in memory]),
        }
    return result
