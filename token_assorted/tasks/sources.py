"""Reading raw rows of a published data set: a local JSON, JSONL, parquet or text file, or a hub data set.

    path/to/file.jsonl | .json | .parquet     rows as dicts (a JSON list, or one object per line)
    path/to/file.txt                          one {"line": ...} row per non-empty line (iCoT's format)
    owner/name[:config][@split]               `datasets.load_dataset(owner/name, config, split=split)`,
                                              for users with access to the hub (never used by the tests)
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError, DataError
from ..records import parse_json_rows, read_text

HUB_NAME = re.compile(r"^[\w.-]+/[\w.-]+(:[\w.-]+)?(@[\w.\[\]:%-]+)?$")


FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".txt")


def is_hub_name(source: str) -> bool:
    """owner/name: not an existing path, and not named like one of the files read here (a typo stays a file error)."""
    path = Path(source)
    return not path.exists() and path.suffix not in FILE_SUFFIXES and bool(HUB_NAME.match(source))


def read_rows(source: str, default_split: str = "train") -> list[dict]:
    """The rows of `source`; a missing local file, or a name that is neither a file nor a hub name, is an error."""
    if is_hub_name(source):
        return _hub_rows(source, default_split)
    path = Path(source)
    if not path.is_file():
        raise DataError("no such file (expected a .json, .jsonl, .parquet or .txt file, or a hub name owner/name)", file=path)
    if path.suffix == ".parquet":
        return _parquet_rows(path)
    text = read_text(path)
    if path.suffix == ".txt":
        return [{"line": line} for line in text.splitlines() if line.strip()]
    rows = parse_json_rows(text, path)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"expected a JSON object, got {type(row).__name__}", file=path, record=index)
    return rows


def _parquet_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise DataError(f"cannot read parquet: {err}", file=path) from None


def _hub_rows(source: str, default_split: str) -> list[dict]:
    from datasets import load_dataset

    name, _, split = source.partition("@")
    name, _, config = name.partition(":")
    try:
        dataset = load_dataset(name, config or None, split=split or default_split)
    except Exception as err:  # network, access and naming errors all end here
        raise ConfigError(f"cannot load hub data set '{source}': {err}") from None
    return list(dataset)
