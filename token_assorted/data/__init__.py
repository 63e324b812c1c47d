"""Record I/O, sequence formatting, tokenizers and token-id datasets."""

from .dataset import encode_batch, encode_record, encode_records, get_tokenizer, load_dataset
from .format import extract_answer, prompt_text, reasoning_text, sequence_text, solution_text
from ..records import load_records, validate_record, write_records
from .splits import generate, load_split, task_dir

__all__ = [
    "encode_batch", "encode_record", "encode_records", "extract_answer", "generate", "get_tokenizer", "load_dataset",
    "load_records", "load_split", "prompt_text", "reasoning_text", "sequence_text", "solution_text",
    "task_dir", "validate_record", "write_records",
]
