"""What the loaded (not generated) tasks share: turning a published data set into Coconut records and splits.

A loaded task module defines NAME, SPLITS and `parse(row) -> record`, and takes its `Params` and `generate`
from here. `task.params.source` names the rows (a local file or a hub data set, see sources.py); the test
split comes from `task.params.test_source` when that is set, else from the same rows. Split sizes of -1 mean
"all that is left". The same source, sizes and seed give byte-identical splits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..errors import ConfigError, DataError
from ..io import sha256
from ..records import validate_record
from .sources import is_hub_name, read_rows


@dataclass
class Params:
    source: Optional[str] = None  # train and valid records (and test, without test_source): a file or owner/name
    test_source: Optional[str] = None  # the test records, kept in their order


class BadRow(ValueError):
    """A raw row that cannot become a record; `field` names the row's field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def text_field(row: dict, field: str) -> str:
    if field not in row:
        raise BadRow(field, "missing")
    value = row[field]
    if not isinstance(value, str):
        raise BadRow(field, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise BadRow(field, "empty")
    return value


def lines(text: str) -> list[str]:
    """The non-empty lines of a solution text, stripped: the record's steps."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def to_records(source: str, parse: Callable[[dict], dict], default_split: str) -> list[dict]:
    records = []
    for index, row in enumerate(read_rows(source, default_split)):
        try:
            record = parse(row)
        except BadRow as err:
            raise DataError(str(err), file=source, record=index, field=err.field) from None
        validate_record(record, file=source, index=index)  # here, not in a later stage at its place in a split
        records.append(record)
    if not records:
        raise DataError("holds no records", file=source)
    return records


def _take(records: list[dict], size: int, split: str, source: str) -> tuple[list[dict], list[dict]]:
    """The first `size` records (all for -1) and the rest."""
    if size < 0:
        return records, []
    if size > len(records):
        raise ConfigError(f"task.sizes.{split} is {size} but {source} has only {len(records)} records left for it")
    return records[:size], records[size:]


def generate(name: str, parse: Callable[[dict], dict], params: Params, sizes: dict[str, int], seed: int) -> dict[str, list[dict]]:
    if not params.source:
        raise ConfigError(
            f"task '{name}' is read from a data set: set task.params.source=PATH (.json, .jsonl, .parquet or .txt) "
            "or a hub name owner/name[:config][@split]"
        )
    pool = to_records(params.source, parse, "train")
    random.Random(seed).shuffle(pool)
    if params.test_source:
        test, _ = _take(to_records(params.test_source, parse, "test"), sizes["test"], "test", params.test_source)
    else:
        test, pool = _take(pool, sizes["test"], "test", params.source)
    valid, pool = _take(pool, sizes["valid"], "valid", params.source)
    train, _ = _take(pool, sizes["train"], "train", params.source)
    return {"train": train, "valid": valid, "test": test}


def task_generator(name: str, parse: Callable[[dict], dict]):
    """The `generate(params, sizes, seed, progress)` of a loaded task."""

    def generate_task(params: Params, sizes: dict[str, int], seed: int, progress: bool = True) -> dict[str, list[dict]]:
        return generate(name, parse, params, sizes, seed)

    return generate_task


def source_checksums(params: Params) -> dict[str, str]:
    """What the splits were read from: a file's checksum, or a hub name as given (its revision is the hub's)."""
    sources = {"source": params.source, "test_source": params.test_source}
    return {
        name: source if is_hub_name(source) else sha256(source)
        for name, source in sources.items()
        if source and (is_hub_name(source) or Path(source).is_file())
    }


def score(record: dict, completion: str) -> dict:
    """Math scoring for every loaded task: the text after the last '#' against the record's answer."""
    from .base import extract_answer
    from .math_answers import answers_match

    predicted = extract_answer(completion)
    return {"correct": answers_match(predicted, record["answer"]), "predicted": predicted}
