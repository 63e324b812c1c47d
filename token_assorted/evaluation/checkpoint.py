"""Finding and loading a fine-tuned model: a `save_pretrained` directory (model + tokenizer) with a meta.json."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DATA_ORIGIN, FINETUNE_SETTINGS, SAME_MODEL_UNDER, TRAINED_UNDER, settings
from ..data.splits import split_file
from ..data.tokenizer import load_tokenizer
from ..errors import ConfigError, remedy
from ..identity import IDENTITY, changes, made_from, setting_paths
from ..io import META, check_input, checkpoint_checksum, sha256
from ..layout import finetune_dir
from ..lm.model import attention_choice, own_positions, parameter_count
from ..precision import weights_dtype
from .results import evaluation_file


def checkpoint_dir(cfg) -> Path:
    return Path(cfg.eval.checkpoint) if cfg.eval.checkpoint else finetune_dir(cfg)


def evaluation_inputs(cfg) -> dict[str, str]:
    """What an evaluation is made from, by checksum: the checkpoint and the test file (both must exist)."""
    return {"checkpoint": checkpoint_checksum(checkpoint_dir(cfg)), "test": sha256(evaluation_file(cfg))}


@dataclass
class Checkpoint:
    path: Path
    model: object  # a transformers causal LM
    tokenizer: object
    meta: dict = field(default_factory=dict)  # the training stage's meta.json; empty if it has none

    @property
    def parameters(self) -> int:
        return parameter_count(self.model)

    @property
    def training_tokens(self) -> int | None:
        return self.meta.get("tokens_seen")

    @property
    def training_seed(self) -> int | None:
        return self.meta.get("seed")

    @property
    def training_precision(self) -> str | None:
        """The trainer's precision in fine-tuning: evaluation generates under the same autocast."""
        return self.meta.get("config", {}).get("trainer", {}).get("precision")

    @property
    def max_positions(self) -> int | None:
        """The longest sequence to generate to: the model's own limit, or less where it was fine-tuned on shorter
        ones (model.max_positions), as positions it never trained on would be guesswork."""
        trained = self.meta.get("config", {}).get("model", {}).get("max_positions")
        limits = [limit for limit in (own_positions(self.model.config), trained) if limit]
        return min(limits) if limits else None


def check_training_data(cfg, meta: dict, path: Path) -> None:
    """A checkpoint fine-tuned on another train split than the one here now may have seen today's test items."""
    train = split_file(cfg, "train")
    if "train" in meta.get("inputs", {}) and train.is_file():
        check_input(meta, "train", sha256(train), where=path, fix="run `{command}` again",
                    remedy=remedy("finetune", cfg, f"mode={cfg.mode.name}"))


def check_trained_under(cfg, made: dict, path: Path) -> None:
    """The model at a mode's own place must have been fine-tuned under these settings (`made`, the identity it
    records): results name them."""
    now = made_from(settings(cfg, FINETUNE_SETTINGS), {})
    changed = changes(made, now, within=setting_paths(TRAINED_UNDER),
                      ignore=setting_paths((*SAME_MODEL_UNDER, *DATA_ORIGIN)))
    if changed:
        raise ConfigError(
            f"the model at {path} was fine-tuned under other settings: {', '.join(changed)}; give those to "
            f"evaluate it, or eval.checkpoint={shlex.quote(str(path))} to evaluate it as it is, or train one under "
            "these with `{command}` (which replaces it; out_dir=DIR keeps both)",
            remedy("finetune", cfg, f"mode={cfg.mode.name}"),
        )


def load_checkpoint(cfg, device="cpu") -> Checkpoint:
    """The model to evaluate, in eval mode on `device`, with cheap checks that it fits this task."""
    from transformers import AutoModelForCausalLM

    path = checkpoint_dir(cfg)
    if not (path / "config.json").is_file():
        if cfg.eval.checkpoint:
            raise ConfigError(f"no model checkpoint at {path} (eval.checkpoint): expected a save_pretrained directory")
        raise ConfigError(f"no model checkpoint at {path}: run `{{command}}` first",
                          remedy("finetune", cfg, f"mode={cfg.mode.name}"))
    meta = json.loads((path / META).read_text(encoding="utf-8")) if (path / META).is_file() else {}
    trained_on = meta.get("config", {}).get("task", {}).get("name")
    if trained_on not in (None, cfg.task.name):
        raise ConfigError(f"the checkpoint at {path} was trained on task '{trained_on}', not '{cfg.task.name}'")
    check_training_data(cfg, meta, path)
    if not cfg.eval.checkpoint and IDENTITY in meta:
        check_trained_under(cfg, meta[IDENTITY], path)
    tokenizer = load_tokenizer(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=weights_dtype(cfg.model), **attention_choice(cfg.model)
        )
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot load a model from {path}: {err}") from None
    if model.get_input_embeddings().num_embeddings < len(tokenizer):
        raise ConfigError(
            f"the model at {path} has {model.get_input_embeddings().num_embeddings} token embeddings but its "
            f"tokenizer has {len(tokenizer)} tokens: the checkpoint was saved with another tokenizer"
        )
    return Checkpoint(path=path, model=model.to(device).eval(), tokenizer=tokenizer, meta=meta)
