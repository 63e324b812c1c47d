"""Memory savers for fine-tuning pretrained models: gradient checkpointing and LoRA adapters (peft).

With `model.lora.rank > 0` the base weights are frozen and LoRA adapters train on the linear layers; the
input and output embeddings train in full, since the latent tokens' rows are new. Before saving, the
adapters are merged into the weights, so the saved directory is a plain transformers model.
"""

from __future__ import annotations

from ..errors import ConfigError


def prepare_for_training(model, model_cfg):
    """The model to train: with gradient checkpointing and LoRA adapters where cfg.model asks for them."""
    if model_cfg.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 names it so
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False  # a KV cache is useless while training and clashes with recomputation
    if model_cfg.lora.rank > 0:
        model = with_lora(model, model_cfg.lora)
    return model


def with_lora(model, lora):
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ConfigError("model.lora.rank > 0 needs peft: pip install 'token-assorted[dev]'") from None
    targets = list(lora.target_modules)
    config = LoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
        target_modules="all-linear" if targets == ["all-linear"] else targets,
    )
    try:
        adapted = get_peft_model(model, config)
    except ValueError as err:
        raise ConfigError(f"model.lora: {err}") from None
    for embedding in (model.get_input_embeddings(), model.get_output_embeddings()):
        if embedding is not None:
            embedding.weight.requires_grad_(True)  # the latent tokens' rows are new and must learn
    return adapted


def for_saving(model):
    """A plain transformers model to save: LoRA merged into the weights, generation settings restored."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if checkpointing(model):
        if hasattr(model, "activation_checkpointing_disable"):
            model.activation_checkpointing_disable()
        else:
            model.gradient_checkpointing_disable()
        model.config.use_cache = True
    return model


def checkpointing(model) -> bool:
    """Whether activations are recomputed in the backward pass (the property's name changed in transformers 5)."""
    if hasattr(type(model), "is_activation_checkpointing"):
        return model.is_activation_checkpointing
    return getattr(model, "is_gradient_checkpointing", False)


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
