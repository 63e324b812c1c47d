"""The base model: a cot model per task from which every method fine-tunes where base.use is set (config.BaseConfig).

It is the cot model of an out_dir of its own, <out_dir>/base, trained under base.train instead of finetune.*:
`python -m token_assorted.train_base` trains it, and `make eval` before the methods of its task. Each method then
starts from it as from a pretrained model, so the hour buys one long training per task, not one per method.
"""

from __future__ import annotations

import copy
from pathlib import Path

from omegaconf import OmegaConf

from ..config import MethodSettings
from ..errors import ConfigError, remedy
from ..layout import Layout

BASE_DIR = "base"


def base_out_dir(cfg) -> Path:
    return Layout.of(cfg).inside(BASE_DIR).out_dir


def base_dir(cfg) -> Path:
    """Where the task's base model is: the cot model of <out_dir>/base."""
    return Layout.of(cfg).inside(BASE_DIR).finetune("cot")


def base_config(cfg):
    """The config the base model trains under: cfg as a cot fine-tune of <out_dir>/base, under base.train, from the
    model cfg.model describes."""
    base = copy.deepcopy(cfg)
    base.mode = OmegaConf.structured(MethodSettings(name="cot"))  # cot reads no other key
    base.finetune = cfg.base.train
    base.base.use = False
    base.model.latent_init = "mean"  # cot writes no latent token; each method starts those rows afresh
    base.out_dir = str(base_out_dir(cfg))
    return base


def starting_config(cfg):
    """cfg as fine-tuning takes its tokenizer and first weights from: with base.use, model.path is the base model."""
    if not cfg.base.use:
        return cfg
    directory = base_dir(cfg)
    if not (directory / "config.json").is_file():
        raise ConfigError(f"no base model at {directory} (base.use): run `{{command}}` first",
                          remedy("train_base", cfg, "mode=cot"))
    start = copy.deepcopy(cfg)
    start.model.path = str(directory)
    return start
