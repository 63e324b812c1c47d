"""The causal LM to fine-tune: a small Llama or a GPT-2 built from cfg.model, or a local pretrained one.

    model=tiny          Qwen3-style decoder (Llama with QK-norm) trained from scratch with the word-level tokenizer
    model=mini          a wider, deeper one for preset=gpu (6.4 M parameters)
    model=tiny-assistant  a smaller one, SoftCoT's assistant LM
    model=gpt2-small    GPT-2 small (12 layers, 768 wide, 12 heads), from scratch
    model.path=DIR      any local causal LM, through AutoModelForCausalLM
"""

from __future__ import annotations

from ..config import ARCHS, DTYPES, check_choice, check_model_path
from ..precision import weights_dtype
from ..errors import ConfigError


def model_config(model_cfg, tokenizer):
    """A transformers config for `model_cfg.arch`, sized by cfg.model and matched to the tokenizer's ids."""
    from transformers import GPT2Config, LlamaConfig, Qwen3Config

    check_choice("model.arch", model_cfg.arch, ARCHS)
    if model_cfg.hidden_size % model_cfg.num_heads:
        raise ConfigError(
            f"model.hidden_size {model_cfg.hidden_size} is not a multiple of model.num_heads {model_cfg.num_heads}"
        )
    ids = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
    }
    decoder = {
        "hidden_size": model_cfg.hidden_size,
        "intermediate_size": model_cfg.intermediate_size,
        "num_hidden_layers": model_cfg.num_layers,
        "num_attention_heads": model_cfg.num_heads,
        "num_key_value_heads": model_cfg.num_heads,
        "max_position_embeddings": model_cfg.max_positions,
        "attention_dropout": model_cfg.dropout,
        "tie_word_embeddings": False,
    }
    if model_cfg.arch == "llama":
        return LlamaConfig(**decoder, **ids)
    if model_cfg.arch == "qwen3":  # Llama with RMS-normed queries and keys per head (QK-norm); Llama's RoPE base
        return Qwen3Config(
            **decoder, head_dim=model_cfg.hidden_size // model_cfg.num_heads, rms_norm_eps=1e-5,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **ids,
        )
    return GPT2Config(
        n_embd=model_cfg.hidden_size,
        n_inner=model_cfg.intermediate_size,
        n_layer=model_cfg.num_layers,
        n_head=model_cfg.num_heads,
        n_positions=model_cfg.max_positions,
        resid_pdrop=model_cfg.dropout,
        embd_pdrop=model_cfg.dropout,
        attn_pdrop=model_cfg.dropout,
        **ids,
    )


def attention_choice(model_cfg) -> dict:
    """from_config / from_pretrained's attn_implementation, where cfg.model.attention names one."""
    return {"attn_implementation": model_cfg.attention} if model_cfg.attention else {}


def with_lifted_attention(model):
    """`model` on transformers' sdpa computed in float32 on a CPU under bf16 autocast (token_assorted/attention.py:
    faster there), where its class takes transformers' attention functions; other classes keep their own. Not
    saved: save_pretrained writes no attention choice."""
    from ..attention import lm_attention_name  # torch: loaded with a model, not with the paths and sizes here

    if type(model)._supports_attention_backend:
        model.set_attn_implementation(lm_attention_name())
    return model


def build_model(model_cfg, tokenizer):
    """A fresh model sized for `tokenizer` (before its latent tokens are added), or the one at model.path."""
    from transformers import AutoModelForCausalLM

    from .init import mimetic_init

    if model_cfg.path:
        check_choice("model.dtype", model_cfg.dtype, DTYPES)
        check_model_path(model_cfg.path, "config.json")
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(model_cfg.path), dtype=weights_dtype(model_cfg), **attention_choice(model_cfg)
            ).train()  # it loads in eval mode
        except (OSError, ValueError) as err:
            raise unloadable(model_cfg, err) from None
    else:
        config = model_config(model_cfg, tokenizer)
        try:
            model = AutoModelForCausalLM.from_config(config, **attention_choice(model_cfg))
        except ValueError as err:
            if not model_cfg.attention:
                raise  # not ours to name: only a chosen attention is checked here
            first_line = str(err).splitlines()[0]
            raise ConfigError(f"model.attention '{model_cfg.attention}' cannot be used: {first_line}") from None
        if model_cfg.mimetic_init:
            mimetic_init(model, model_cfg.mimetic_init)
    return model if model_cfg.attention else with_lifted_attention(model)


def unloadable(model_cfg, err: Exception) -> ConfigError:
    return ConfigError(f"cannot load a causal LM from model.path '{model_cfg.path}': {err}")


def planned_config(model_cfg, tokenizer):
    """The transformers config of the model build_model makes, without making it (or loading its weights)."""
    if not model_cfg.path:
        return model_config(model_cfg, tokenizer)
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(model_cfg.path))
    except (OSError, ValueError) as err:
        raise unloadable(model_cfg, err) from None


def own_positions(config) -> int | None:
    """The most positions a model takes by its (transformers) config, if it says."""
    return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)


def max_positions(config, model_cfg) -> int:
    """The longest sequence to train on: cfg.model.max_positions, or less where the model's config allows fewer."""
    own = own_positions(config)
    return min(model_cfg.max_positions, own) if own else model_cfg.max_positions


def set_generation_ids(model, tokenizer, max_new_tokens: int) -> None:
    """Make stock `generate()` stop at the tokenizer's EOS and pad with its pad token, greedy by default."""
    from transformers import GenerationConfig

    ids = {
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
    }
    model.config.update(ids)
    model.generation_config = GenerationConfig(**ids, max_new_tokens=max_new_tokens, do_sample=False)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
