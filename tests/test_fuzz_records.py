"""Fuzzing record files: every mutation of a real record is loaded unchanged or rejected with a DataError that
names the file, the record and the field; never another exception, never a silently different record."""

import copy
import json
import random

import pytest

from token_assorted.data import encode_records, load_records, sequence_text
from token_assorted.data.tokenizer import build_word_tokenizer
from token_assorted.errors import DataError

FIELDS = ("question", "steps", "answer")
WRONG_VALUES = [1, 2.5, None, True, {"text": "x"}]


def drop_field(record, rng):
    field = rng.choice(FIELDS)
    del record[field]
    return record, ("record", field)


def wrong_type(record, rng):
    field = rng.choice(FIELDS)
    record[field] = rng.choice(WRONG_VALUES + (["a string"] if field == "steps" else [["a", "list"]]))
    return record, ("record", field)


def empty_value(record, rng):
    field = rng.choice(FIELDS)
    record[field] = [] if field == "steps" else rng.choice(["", "   ", "\n\t"])
    return record, ("record", field)


def bad_step(record, rng):
    record["steps"][rng.randrange(len(record["steps"]))] = rng.choice([3, "", " ", None, ["nested"], {"s": 1}])
    return record, ("record", "steps")


def not_an_object(record, rng):
    return rng.choice([[record], "a string", 7, None, True]), ("record", None)


def extra_fields(record, rng):
    record[f"extra_{rng.randrange(100)}"] = rng.choice([None, [1, 2], {"nested": {"deep": [1]}}, "x"])
    return record, ("ok", None)


def unicode_text(record, rng):
    record["question"] += rng.choice([" ünïcødé ✓", " 中文", " emoji 🧠", " nul\u0000byte", " tab\tand\r"])
    return record, ("ok", None)


def huge_trace(record, rng):
    record["steps"] = record["steps"] * rng.randrange(100, 300)
    return record, ("too long", None)


def surrogate(record, rng):
    field = rng.choice(FIELDS)
    if field == "steps":
        record["steps"][0] += "\ud800"
    else:
        record[field] += "\udfff"
    return record, ("record", field)


def hash_in_answer(record, rng):
    record["answer"] += " ### " + rng.choice(["1", "x"])
    return record, ("record", "answer")


def nan_answer(record, rng):
    record["answer"] = rng.choice([float("nan"), float("inf")])
    return record, ("record", "answer")


RECORD_MUTATIONS = [drop_field, wrong_type, empty_value, bad_step, not_an_object, extra_fields, unicode_text,
                    huge_trace, surrogate, hash_in_answer, nan_answer]


def serialise(records, jsonl: bool) -> bytes:
    """JSONL with \\u escapes, a JSON list as raw UTF-8 (escaped where it holds a lone surrogate, as JSON allows)."""
    if jsonl:
        return "".join(json.dumps(r) + "\n" for r in records).encode()
    try:
        return json.dumps(records, indent=1, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(records, indent=1).encode()


# File-level faults: the whole text is broken, so the error names the file (and where in it), not a record.
def truncated(records, rng):
    text = serialise(records, jsonl=False)
    return text[: rng.randrange(1, len(text) - 2)], "file"


def truncated_jsonl_line(records, rng):
    text = serialise(records, jsonl=True)
    lines = text.split(b"\n")
    line = rng.randrange(len(records))
    lines[line] = lines[line][: rng.randrange(1, len(lines[line]) - 1)]
    return b"\n".join(lines[: line + 1]), "file"


def not_utf8(records, rng):
    text = serialise(records, jsonl=rng.random() < 0.5)
    at = rng.randrange(len(text))
    return text[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]) + text[at:], "file"


def object_instead_of_list(records, rng):
    return json.dumps({"records": records}, indent=rng.choice([None, 1])).encode(), "file or record 0"


def nested_too_deep(records, rng):
    depth = rng.choice([10_000, 100_000])
    return b"[" * depth + b"]" * depth, "file"


def empty_or_blank(records, rng):
    return rng.choice([b"", b"   \n\n", b"[]", b"\n"]), "file"


def trailing_garbage(records, rng):
    return serialise(records, jsonl=False) + rng.choice([b" x", b",", b"]"]), "file"


def byte_order_mark(records, rng):
    return "\ufeff".encode() + serialise(records, jsonl=rng.random() < 0.5), "ok"


FILE_MUTATIONS = [truncated, truncated_jsonl_line, not_utf8, object_instead_of_list, nested_too_deep,
                  empty_or_blank, trailing_garbage, byte_order_mark]


@pytest.fixture(scope="module")
def originals(reference_dir) -> list[dict]:
    records = []
    for name in ("prosqa_valid.json", "prontoqa_valid.json"):
        records += json.loads((reference_dir / name).read_text())
    return records


@pytest.fixture(scope="module")
def tokenizer(originals):
    return build_word_tokenizer(sequence_text(r) for r in originals)


def check_rejection(err: DataError, path, record=None, field=None):
    message = str(err)
    assert err.file is not None and str(path) in message, message
    assert err.record == record and err.field == field, (message, record, field)
    if record is not None:
        assert f"record {record}" in message
    if field is not None:
        assert f"field '{field}'" in message


def test_mutated_records_load_exactly_or_are_rejected_naming_file_record_and_field(originals, tokenizer, tmp_path):
    outcomes = {}
    for index, original in enumerate(originals):  # all 500 reference records, each mutated once
        rng = random.Random(index)
        mutate = RECORD_MUTATIONS[index % len(RECORD_MUTATIONS)]
        mutated, (expected, field) = mutate(copy.deepcopy(original), rng)
        neighbours = [copy.deepcopy(originals[(index + k) % len(originals)]) for k in (1, 2, 3)]
        position = rng.randrange(len(neighbours) + 1)
        records = neighbours[:position] + [mutated] + neighbours[position:]
        path = tmp_path / f"{index}.{'jsonl' if index % 2 else 'json'}"
        path.write_bytes(serialise(records, jsonl=index % 2 == 1))
        try:
            loaded = load_records(path)
        except DataError as err:
            assert expected == "record", (mutate.__name__, str(err))
            check_rejection(err, path, record=position, field=field)
            outcomes[mutate.__name__] = "rejected"
            continue
        assert expected in ("ok", "too long"), (mutate.__name__, "accepted")
        assert loaded == json.loads(json.dumps(records)), mutate.__name__  # exactly what the file says
        if expected == "too long":  # accepted as a record, refused where it meets the model's context
            with pytest.raises(DataError) as err:
                encode_records(tokenizer, loaded, max_length=1024, file=path)
            check_rejection(err.value, path, record=position, field="question/steps/answer")
        outcomes[mutate.__name__] = "loaded"
    assert len(originals) >= 200 and set(outcomes) == {m.__name__ for m in RECORD_MUTATIONS}


def test_broken_files_are_rejected_naming_the_file(originals, tmp_path):
    seen = set()
    for index in range(240):
        rng = random.Random(index)
        mutate = FILE_MUTATIONS[index % len(FILE_MUTATIONS)]
        start = rng.randrange(len(originals) - 4)
        records = copy.deepcopy(originals[start : start + rng.randrange(1, 5)])
        content, expected = mutate(records, rng)
        path = tmp_path / f"{index}.json"
        path.write_bytes(content)
        try:
            loaded = load_records(path)
        except DataError as err:
            assert expected != "ok", (mutate.__name__, str(err))
            if expected == "file or record 0" and err.record is not None:
                check_rejection(err, path, record=0, field="question")
            else:
                check_rejection(err, path)
            seen.add(mutate.__name__)
            continue
        assert expected == "ok" and loaded == records, mutate.__name__
        seen.add(mutate.__name__)
    assert seen == {m.__name__ for m in FILE_MUTATIONS}
