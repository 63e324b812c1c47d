"""SoftCoT (Xu et al., 2025): a frozen assistant LM reads the question and soft_thoughts placeholders; a trainable
linear projection maps its last-layer states there into soft_thoughts input embeddings of a frozen main LM, which
then writes the reasoning and the answer. Only the projection trains. main / assistant: model directories; None =
the cot models this toolkit trains (the pipeline trains the assistant with model=assistant_model under
<out_dir>/assistant). thoughts/softcot.py holds the models, batches and embedder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import ConfigError
from ..thoughts.prompting import Prompting, write_thoughts
from .base import Method, MethodSettings, Prerequisite


@dataclass
class SoftCoTSettings(MethodSettings):
    soft_thoughts: int = 4  # N soft thoughts, in training and evaluation
    main: Optional[str] = None  # the frozen main LM; None = <out_dir>/finetune/<task>/cot
    assistant: Optional[str] = None  # the frozen assistant LM; None = <out_dir>/assistant/finetune/<task>/cot
    assistant_model: str = "tiny-assistant"  # the conf/model/ entry the pipeline trains the default assistant with


class SoftCoT(Method):
    name = "softcot"
    Settings = SoftCoTSettings
    trains_lm = False
    prompted = True

    def check(self):
        self.at_least("soft_thoughts", 1)

    def setup(self, cfg, progress: bool):
        """The frozen main and assistant LMs, and the projection between them that trains."""
        from ..data import load_dataset
        from ..data.splits import load_split, split_file
        from ..latent.vocab import LATENT_PATTERN, latent_vocab
        from ..lm.model import max_positions, set_generation_ids
        from ..lm.setup import SPLITS, Setup, latent_shape
        from ..thoughts import softcot
        from ..thoughts.module import SoftCoTModule
        from ..thoughts.softcot import SoftCoTCollator

        main, tokenizer, assistant, assistant_tokenizer = softcot.load_models(cfg)
        limit = max_positions(main.config, cfg.model)
        data = {split: load_dataset(cfg, split, tokenizer, max_length=limit).to_list() for split in SPLITS}
        prompts = {split: softcot.assistant_prompts(assistant_tokenizer, load_split(cfg, split)) for split in SPLITS}
        collators = {
            split: SoftCoTCollator(
                self.settings.soft_thoughts, prompts[split], pad_id=tokenizer.pad_token_id,
                assistant_pad_id=assistant_tokenizer.pad_token_id, max_length=limit, file=split_file(cfg, split),
            )
            for split in SPLITS
        }
        projection = softcot.make_projection(assistant, main)
        set_generation_ids(main, tokenizer, cfg.task.max_new_tokens)
        vocab = latent_vocab(tokenizer) if any(LATENT_PATTERN.fullmatch(t) for t in tokenizer.get_vocab()) else None

        def save(directory, stage: int) -> dict:
            softcot.save_softcot(directory, assistant, assistant_tokenizer, projection)
            write_thoughts(directory, self.name, self.settings.soft_thoughts)
            return {"main": str(softcot.main_dir(cfg)), "assistant": str(softcot.assistant_dir(cfg))}

        module = SoftCoTModule(main, assistant, projection, cfg.finetune)
        return Setup(module, tokenizer, data, collators, latent_shape(cfg.vqvae), vocab, save)

    @classmethod
    def inputs(cls, cfg) -> dict:
        from ..thoughts.softcot import softcot_inputs

        return softcot_inputs(cfg)

    @classmethod
    def prompting(cls, spec, checkpoint, device):
        from ..thoughts.softcot import load_softcot, softcot_embedder

        assistant, assistant_tokenizer, projection = load_softcot(checkpoint.path, checkpoint.model, device)
        embed = softcot_embedder(
            checkpoint.model, checkpoint.tokenizer, assistant, assistant_tokenizer, projection, spec["thoughts"]
        )
        extra = sum(p.numel() for p in assistant.parameters()) + sum(p.numel() for p in projection.parameters())
        return Prompting(embed=embed, thought_tokens=spec["thoughts"], parameters=extra)

    @classmethod
    def prerequisites(cls, cfg):
        """Its frozen models where they are this toolkit's: the task's cot model (made by this run's cot job where
        it has one) and a smaller cot model of its own as the assistant, not the base model's."""
        from ..thoughts.softcot import assistant_out_dir

        mode = cfg.mode
        if cfg.model.latent_init == "codebook" and not (mode.main and mode.assistant):
            raise ConfigError(
                "model.latent_init=codebook with mode=softcot: its frozen cot LMs, trained here, would start from a "
                "VQ-VAE codebook that the assistant's out_dir lacks; give mode.main and mode.assistant, or leave "
                "model.latent_init at mean"
            )
        needed = []
        if not mode.main:
            needed.append(Prerequisite("SoftCoT main LM", {"mode": "cot"}, job=f"{cfg.task.name}/cot"))
        if not mode.assistant:
            needed.append(Prerequisite("SoftCoT assistant LM", {
                "mode": "cot", "model": mode.assistant_model, "out_dir": str(assistant_out_dir(cfg)),
                "base.use": "false",
            }))
        return needed
