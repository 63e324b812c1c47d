"""Coconut-format records: read JSON lists or JSONL, validate, write splits atomically. The tasks read published
data sets with it, data the splits."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DataError
from .io import write_json

REQUIRED = {"question": str, "steps": list, "answer": str}


def load_records(path) -> list[dict]:
    """Read a JSON list of records, or one JSON object per line (JSONL), and validate every record."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=path)
    text = read_text(path)
    records = parse_json_rows(text, path)
    if not records:
        raise DataError("the file holds no records", file=path)
    listed = text.lstrip().startswith("[")
    if not listed and len(records) == 1 and isinstance(records[0], dict) and not REQUIRED.keys() & records[0].keys():
        # one object on one line reads as JSONL; it is more likely a wrapper around the records than a record
        keys = ", ".join(sorted(records[0])[:5])
        raise DataError(f"expected a JSON list of records or one record per line, got one object with keys: {keys}",
                        file=path)
    for index, record in enumerate(records):
        validate_record(record, file=path, index=index)
    return records


def read_text(path: Path) -> str:
    """A data file's text: UTF-8, a byte-order mark (as some editors write) left out, not empty."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text (bad byte at offset {err.start})", file=path) from None
    if not text.strip():
        raise DataError("the file is empty", file=path)
    return text


def parse_json_rows(text: str, path: Path) -> list:
    """The rows of a JSON list, or of JSONL (one per line), as they are: what they must hold is the caller's."""
    return _parse_json_list(text, path) if text.lstrip().startswith("[") else _parse_jsonl(text, path)


def reason(err: json.JSONDecodeError) -> str:
    """json's message, completed: some end in "at", meaning the position given beside them."""
    return err.msg.removesuffix(" at") + " there" if err.msg.endswith(" at") else err.msg


def _parse_json_list(text: str, path: Path) -> list:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"malformed JSON at line {err.lineno}, column {err.colno}: {reason(err)}", file=path) from None
    except RecursionError:
        raise DataError("JSON nested too deeply to be a list of records", file=path) from None
    if not isinstance(records, list):
        raise DataError(f"expected a JSON list of records, got {type(records).__name__}", file=path)
    return records


def _parse_jsonl(text: str, path: Path) -> list:
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except RecursionError:
            raise DataError(f"JSON on line {lineno} nested too deeply to be a record", file=path) from None
        except json.JSONDecodeError as err:
            raise DataError(
                f"malformed JSON on line {lineno}, column {err.colno}: {reason(err)} "
                "(expected a JSON list of records or one record per line)",
                file=path,
            ) from None
    return records


def validate_record(record, *, file=None, index: int | None = None) -> None:
    """A record is an object with a non-empty string question and answer and a non-empty list of strings as steps."""
    if not isinstance(record, dict):
        raise DataError(f"expected a JSON object, got {type(record).__name__}", file=file, record=index)
    for field, kind in REQUIRED.items():
        if field not in record:
            raise DataError("missing", file=file, record=index, field=field)
        value = record[field]
        if not isinstance(value, kind):
            raise DataError(
                f"expected {kind.__name__}, got {type(value).__name__}", file=file, record=index, field=field
            )
        if not value or (isinstance(value, str) and not value.strip()):
            raise DataError("empty", file=file, record=index, field=field)
    for position, step in enumerate(record["steps"]):
        if not isinstance(step, str) or not step.strip():
            raise DataError(
                f"step {position} must be a non-empty string", file=file, record=index, field="steps"
            )
    for field in REQUIRED:
        texts = record[field] if field == "steps" else [record[field]]
        if not all(_encodable(text) for text in texts):
            raise DataError("holds an unpaired surrogate code point, not text", file=file, record=index, field=field)
    if "#" in record["answer"]:
        # the predicted answer is the text after the last '#': an answer holding one could never be matched
        raise DataError(
            "must not contain '#', which marks where the answer starts", file=file, record=index, field="answer"
        )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def write_records(path, records: list[dict]) -> None:
    write_json(path, records)
