"""Where a computation runs and in what precision: the one home of these rules, for training, encoding, generation
and the bench alike.

    trainer.precision     bf16 autocast where bf16 arithmetic is fast (bf16_where_fast, the default), else fp32
    weights               float32 for a model built here; model.dtype for a model.path model (weights_dtype)
    encoding, decoding    the VQ-VAE under the autocast it trained with (autocast), so its codes are the same
    generation            on a GPU under the training autocast; on a CPU in the weights' own dtype (generation_autocast)

Attention under a CPU's bf16 autocast is computed in float32 (attention.py). The measurements behind these choices
are in docs/measurements.md.
"""

from __future__ import annotations

import contextlib


def device_for(accelerator: str):
    """The GPU when the trainer config allows one and there is one, else the CPU."""
    import torch

    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def free_cores() -> int:
    """The cores no other process keeps busy: the CPU count less the last minute's load, at least 1. The tiny model
    trains faster on both cores of an idle 2-core CPU than on one, and far slower on both when another process
    holds one (docs/measurements.md, "Threads")."""
    import os

    cores = os.cpu_count() or 1
    return max(1, cores - round(os.getloadavg()[0]))


def set_threads(threads: int | None) -> None:
    """`threads` for this process; None: OMP_NUM_THREADS where it is set, else free_cores()."""
    import os

    import torch

    if threads is None and "OMP_NUM_THREADS" in os.environ:
        return
    torch.set_num_threads(threads or free_cores())


def cpu_name() -> str:
    """This CPU's model as torch names it ("Intel Xeon"), else its architecture."""
    import platform

    import torch

    return torch.cpu.get_capabilities().get("cpu_name") or platform.machine()


def cpu_bf16_units() -> list[str]:
    """This CPU's bf16 arithmetic, as torch names it (none on one with AVX2 alone)."""
    import torch

    capabilities = torch.cpu.get_capabilities()
    return [name for name in ("amx_bf16", "avx512_bf16") if capabilities.get(name)]


def bf16_where_fast(accelerator: str) -> str:
    """The default trainer.precision: bf16 autocast on a GPU that has bf16 and on a CPU with AMX, fp32 elsewhere.
    Without bf16 arithmetic every bf16 product is converted in software and runs many times slower; with AVX512-BF16
    alone the small models here still trained faster in fp32, the casts costing more than the products gain
    (docs/measurements.md, "Precision")."""
    import torch

    if device_for(accelerator).type == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return "bf16-mixed" if "amx_bf16" in cpu_bf16_units() else "32-true"


def autocast(precision: str, device):
    """The autocast a trainer of `precision` ran under, for work outside it (encoding, decoding): the same numbers
    as in training."""
    import torch

    dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(str(precision).split("-")[0])
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def generation_autocast(device, precision: str):
    """On a GPU, generate under the autocast the model was trained with ("bf16-mixed", "16-mixed"; "32" for none).
    On a CPU, with no autocast (the weights' own dtype): one token at a time gives matrix products too small for
    bf16 units to repay the casts."""
    if device.type == "cpu":
        return contextlib.nullcontext()
    return autocast(precision, device)


def weights_dtype(model_cfg):
    """The dtype a model's weights load in, to fine-tune and to evaluate alike: model.dtype for a model.path model
    (bfloat16: memory for the 8B), float32 for one built here."""
    import torch

    return getattr(torch, model_cfg.dtype) if model_cfg.path else torch.float32
