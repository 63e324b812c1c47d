"""LightningModules for the thought methods: the causal LM module with its loss computed their way."""

from __future__ import annotations

import torch

from ..lm.module import CausalLMModule
from .coconut import coconut_loss
from .softcot import softcot_loss


class CoconutModule(CausalLMModule):
    """The whole LM trains; each batch's thoughts are fed back as input embeddings (coconut.py)."""

    def loss(self, batch: dict) -> torch.Tensor:
        return coconut_loss(self.model, batch)


class SoftCoTModule(CausalLMModule):
    """Only the projection trains; the main LM (self.model) and the assistant stay frozen and in eval mode."""

    def __init__(self, main, assistant, projection, optim):
        super().__init__(main, optim)
        main.requires_grad_(False)
        assistant.requires_grad_(False)
        self.assistant, self.projection = assistant, projection

    def loss(self, batch: dict) -> torch.Tensor:
        return softcot_loss(self.model, self.assistant, self.projection, batch)

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # frozen: no dropout either
        self.assistant.eval()
        return self
