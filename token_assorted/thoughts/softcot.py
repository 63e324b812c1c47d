"""SoftCoT (Xu et al., 2025): soft thoughts from a frozen assistant LM, projected into a frozen main LM.

The assistant reads the question followed by N placeholder tokens (its pad token); its last-layer states
at the placeholders go through a trainable linear projection and become N input embeddings of the main
LM, right after the question:

    main LM input:  P ⊕ proj(h_1) … proj(h_N) ⊕ C ⊕ S        (loss on C ⊕ S)

Only the projection trains; the main LM, a cot model, goes on writing the reasoning and the answer. The
checkpoint is self-contained: the main LM and its tokenizer at the top (save_pretrained), the assistant
in assistant/, the projection in projection.safetensors, N in thoughts.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from ..data.dataset import encode_batch
from ..errors import ConfigError, Remedy, remedy
from ..io import checkpoint_checksum
from ..layout import Layout
from ..latent import IGNORE
from ..lm.model import with_lifted_attention
from ..precision import weights_dtype
from .batches import ThoughtExample, check_length, left_padded, positions, thought_batch

ASSISTANT_DIR = "assistant"
PROJECTION_FILE = "projection.safetensors"


def main_dir(cfg) -> Path:
    """The frozen main LM: mode.main, or the task's cot model as `finetune` writes it."""
    if cfg.mode.main:
        return Path(cfg.mode.main)
    return Layout.of(cfg).finetune("cot")


def assistant_out_dir(cfg) -> Path:
    """Where the pipeline trains the default assistant: a whole out_dir of its own."""
    return Layout.of(cfg).inside(ASSISTANT_DIR).out_dir


def assistant_dir(cfg) -> Path:
    """The frozen assistant LM: mode.assistant, or the cot model trained with model=mode.assistant_model."""
    if cfg.mode.assistant:
        return Path(cfg.mode.assistant)
    return Layout.of(cfg).inside(ASSISTANT_DIR).finetune("cot")


def assistant_remedy(cfg):
    return remedy("finetune", cfg, "mode=cot", f"model={cfg.mode.assistant_model}", f"out_dir={assistant_out_dir(cfg)}")


def softcot_inputs(cfg) -> dict[str, str | None]:
    """Checksums of the two frozen models (None: not made yet), recorded in the checkpoint's meta.json."""
    return {role: checkpoint_checksum(path) if path.exists() else None
            for role, path in (("main", main_dir(cfg)), ("assistant", assistant_dir(cfg)))}


def load_frozen(directory: Path, role: str, made_by: Remedy | None, dtype=torch.float32):
    """(model, tokenizer) from a save_pretrained directory, frozen and in eval mode, its weights in `dtype`;
    `made_by`: the command that makes a missing one, None inside a SoftCoT checkpoint (which no command completes)."""
    from transformers import AutoModelForCausalLM

    from ..data.tokenizer import load_tokenizer

    if not (directory / "config.json").is_file():
        fix = f"run `{{command}}` first (or set mode.{role})" if made_by else "the SoftCoT checkpoint is incomplete"
        raise ConfigError(f"no {role} LM at {directory}: {fix}", made_by)
    model = with_lifted_attention(AutoModelForCausalLM.from_pretrained(str(directory), dtype=dtype).eval())
    model.requires_grad_(False)
    return model, load_tokenizer(directory)


def load_models(cfg):
    """(main, main tokenizer, assistant, assistant tokenizer) for fine-tuning the projection."""
    # the main LM in the dtype evaluation loads it in (lm.model.weights_dtype); the assistant is built here
    main, main_tokenizer = load_frozen(main_dir(cfg), "main", remedy("finetune", cfg, "mode=cot", f"out_dir={cfg.out_dir}"),
                                       weights_dtype(cfg.model))
    assistant, assistant_tokenizer = load_frozen(assistant_dir(cfg), "assistant", assistant_remedy(cfg))
    return main, main_tokenizer, assistant, assistant_tokenizer


def make_projection(assistant, main) -> torch.nn.Linear:
    return torch.nn.Linear(assistant.config.hidden_size, main.get_input_embeddings().weight.shape[1])


def assistant_input(prompt_ids: Sequence[int], placeholder_id: int, count: int) -> list[int]:
    return list(prompt_ids) + [placeholder_id] * count


def soft_thoughts(assistant, projection, input_ids: torch.Tensor, attention_mask: torch.Tensor, count: int):
    """The projected states at the last `count` columns (the placeholders) of the left-padded assistant input."""
    with torch.no_grad():
        states = assistant.base_model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=positions(attention_mask)
        ).last_hidden_state[:, -count:]
    return projection(states.to(projection.weight.dtype))


def softcot_example(row: dict) -> ThoughtExample:
    rest = list(row["reasoning_ids"]) + list(row["solution_ids"])
    return ThoughtExample(list(row["prompt_ids"]), rest, rest)


class SoftCoTCollator:
    """Encoded records (main tokenizer) -> the main LM's batch, plus the assistant's (assistant_*) inputs."""

    def __init__(self, count: int, assistant_prompts: Sequence[Sequence[int]], *, pad_id: int,
                 assistant_pad_id: int, max_length: int, file=None):
        self.count, self.assistant_prompts = count, assistant_prompts
        self.pad_id, self.assistant_pad_id, self.max_length, self.file = pad_id, assistant_pad_id, max_length, file
        self.epoch = 0
        self.stage = 0

    def sample_length(self, row: dict, epoch: int, stage: int) -> int:
        example = softcot_example(row)
        return len(example.prefix) + self.count + len(example.suffix)

    def __call__(self, rows: list[dict]) -> dict:
        examples = [softcot_example(row) for row in rows]
        for row, example in zip(rows, examples):
            check_length(example, self.count, self.max_length, "softcot", self.file, row["index"])
        batch = thought_batch(examples, self.count, self.pad_id, self.pad_id)
        helper = [
            assistant_input(self.assistant_prompts[row["index"]], self.assistant_pad_id, self.count) for row in rows
        ]
        batch["assistant_input_ids"], batch["assistant_attention_mask"] = left_padded(helper, self.assistant_pad_id)
        return batch


def assistant_prompts(assistant_tokenizer, records: Sequence[dict]) -> list[list[int]]:
    return [row["prompt_ids"] for row in encode_batch(assistant_tokenizer, list(records))]


def softcot_loss(main, assistant, projection, batch: dict) -> torch.Tensor:
    start, count = batch["thought_start"], batch["thoughts"]
    mask = batch["attention_mask"]
    embeds = main.get_input_embeddings()(batch["input_ids"])
    helper_ids, helper_mask = batch["assistant_input_ids"], batch["assistant_attention_mask"]
    thoughts = soft_thoughts(assistant, projection, helper_ids, helper_mask, count)
    embeds = torch.cat([embeds[:, :start], thoughts.to(embeds.dtype), embeds[:, start + count :]], 1)
    logits = main(inputs_embeds=embeds, attention_mask=mask, position_ids=positions(mask)).logits
    labels = batch["labels"][:, 1:]
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE)


def save_softcot(directory: Path, assistant, assistant_tokenizer, projection) -> None:
    from safetensors.torch import save_file

    assistant.save_pretrained(directory / ASSISTANT_DIR)
    assistant_tokenizer.save_pretrained(directory / ASSISTANT_DIR)
    weights = {name: value.detach().cpu().contiguous() for name, value in projection.state_dict().items()}
    save_file(weights, directory / PROJECTION_FILE)


def load_softcot(directory: Path, main, device):
    """(assistant, assistant tokenizer, projection) of a SoftCoT checkpoint, on `device`."""
    from safetensors.torch import load_file

    assistant, tokenizer = load_frozen(directory / ASSISTANT_DIR, "assistant", None)
    projection = make_projection(assistant, main)
    projection.load_state_dict(load_file(directory / PROJECTION_FILE))
    return assistant.to(device), tokenizer, projection.to(device).eval()


def softcot_embedder(main, main_tokenizer, assistant, assistant_tokenizer, projection, count: int):
    """For the harness: left-padded main prompts -> their embeddings followed by the `count` soft thoughts.

    The assistant reads the same prompt text in its own tokenizer (decoded from the main ids)."""

    def embed(input_ids: torch.Tensor, attention_mask: torch.Tensor):
        texts = main_tokenizer.batch_decode(input_ids, skip_special_tokens=True)
        helper = [assistant_input(assistant_tokenizer(t)["input_ids"], assistant_tokenizer.pad_token_id, count)
                  for t in texts]
        helper_ids, helper_mask = left_padded(helper, assistant_tokenizer.pad_token_id)
        helper_ids, helper_mask = helper_ids.to(input_ids.device), helper_mask.to(input_ids.device)
        embeds = main.get_input_embeddings()(input_ids)
        thoughts = soft_thoughts(assistant, projection, helper_ids, helper_mask, count).to(embeds.dtype)
        added = torch.ones((len(input_ids), count), dtype=attention_mask.dtype, device=attention_mask.device)
        return torch.cat([embeds, thoughts], 1), torch.cat([attention_mask, added], 1), None

    return embed
