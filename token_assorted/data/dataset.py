"""Token ids for the later stages: each record becomes prompt, reasoning and solution ids."""

from __future__ import annotations

from ..config import check_model_path
from ..errors import DataError
from .format import prompt_text, solution_text
from .splits import load_split, split_file, splits_meta, task_dir
from .tokenizer import LINE_START, WORD_PATTERN, build_word_tokenizer, load_tokenizer, save_tokenizer


def get_tokenizer(cfg, progress: bool = True):
    """The model's own tokenizer when `model.path` is set; else the task's word-level one, built on first use."""
    if cfg.model.path:
        check_model_path(cfg.model.path, "tokenizer_config.json")
        return load_tokenizer(cfg.model.path)
    directory = task_dir(cfg) / "tokenizer"
    # rebuilt when the training split or the way words are split changes
    built_from = f"{splits_meta(cfg)['inputs']['train']}\n{WORD_PATTERN}\n{LINE_START}"
    stamp = directory / "built_from.txt"
    if not (directory.exists() and stamp.exists() and stamp.read_text() == built_from):
        from .format import sequence_text

        records = load_split(cfg, "train")
        tokenizer = build_word_tokenizer(sequence_text(r) for r in records)
        save_tokenizer(tokenizer, directory, stamp={stamp.name: built_from})
    return load_tokenizer(directory)


def encode_record(tokenizer, record: dict) -> dict:
    """Prompt ids (with the tokenizer's BOS, if any), reasoning ids (one run per step) and solution ids + EOS."""
    return encode_batch(tokenizer, [record])[0]


def encode_batch(tokenizer, records: list[dict]) -> list[dict]:
    """encode_record of each record, with three tokenizer calls in all rather than one per text: a fast tokenizer
    encodes a list in one go, far faster than one text at a time (docs/measurements.md)."""
    def ids(texts: list[str], add_special_tokens: bool) -> list[list[int]]:
        options = {"return_attention_mask": False, "return_token_type_ids": False}
        return tokenizer(texts, add_special_tokens=add_special_tokens, **options)["input_ids"] if texts else []

    prompts = ids([prompt_text(r) for r in records], add_special_tokens=True)
    steps = iter(ids([step + "\n" for r in records for step in r["steps"]], add_special_tokens=False))
    solutions = ids([solution_text(r) for r in records], add_special_tokens=False)
    eos = tokenizer.eos_token_id
    rows = []
    for record, prompt, solution in zip(records, prompts, solutions):
        record_steps = [next(steps) for _ in record["steps"]]
        rows.append({
            "prompt_ids": prompt,
            "reasoning_ids": [t for step in record_steps for t in step],
            "step_lengths": [len(step) for step in record_steps],
            "solution_ids": solution + [eos],
        })
    return rows


def encode_records(tokenizer, records: list[dict], *, max_length: int | None = None, file=None, block: int = 4096):
    """A `datasets.Dataset` of encoded records; a sequence longer than `max_length` is an error naming its record."""
    from datasets import Dataset

    rows = []
    for start in range(0, len(records), block):
        for index, row in enumerate(encode_batch(tokenizer, records[start : start + block]), start=start):
            length = len(row["prompt_ids"]) + len(row["reasoning_ids"]) + len(row["solution_ids"])
            if max_length is not None and length > max_length:
                raise DataError(
                    f"the sequence has {length} tokens, more than the model's limit of {max_length}",
                    file=file, record=index, field="question/steps/answer",
                )
            rows.append({"index": index, **row})
    return Dataset.from_list(rows)


def load_dataset(cfg, split: str, tokenizer, max_length: int | None = None):
    return encode_records(tokenizer, load_split(cfg, split), max_length=max_length, file=split_file(cfg, split))



