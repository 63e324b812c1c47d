"""Building the causal LM, the batches it trains on, and the LightningModule that trains it."""

from .batches import EpochDraws, MixingCollator
from .model import build_model, finetune_dir, max_positions, model_config, parameter_count, set_generation_ids
from .module import CausalLMModule

__all__ = [
    "CausalLMModule", "EpochDraws", "MixingCollator", "build_model", "finetune_dir", "max_positions",
    "model_config", "parameter_count", "set_generation_ids",
]
