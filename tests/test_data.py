"""Record I/O and validation, sequence format, the word-level tokenizer and the token-id dataset."""

import json

import pytest

from token_assorted.data import encode_record, encode_records, extract_answer, load_records, sequence_text
from token_assorted.data.tokenizer import build_word_tokenizer, load_tokenizer, save_tokenizer, tokenizer_checksum
from token_assorted.errors import DataError


def test_reference_files_load_unchanged(reference_dir):
    for name in ("prosqa_valid.json", "prontoqa_valid.json"):
        path = reference_dir / name
        assert load_records(path) == json.loads(path.read_text())


def test_jsonl_loads_the_same_records(reference_dir, tmp_path):
    records = json.loads((reference_dir / "prosqa_valid.json").read_text())[:20]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert load_records(path) == records


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is empty"),
        (b"[{\"question\": \"q\", ", "malformed JSON"),
        (b"[{\"question\": \"q", "malformed JSON at line 1, column 15: Unterminated string starting there"),
        (b"{\"data\": [{\"question\": \"q\"}]}", "got one object with keys: data"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b"[]", "holds no records"),
        (b"{\"question\": \"q\"}\n{oops", "line 2"),
        (b"[1]", "record 0: expected a JSON object"),
        (b"[{\"steps\": [\"s\"], \"answer\": \"a\"}]", "record 0, field 'question': missing"),
        (b"[{\"question\": \"q\", \"steps\": \"s\", \"answer\": \"a\"}]", "field 'steps': expected list, got str"),
        (b"[{\"question\": \"q\", \"steps\": [], \"answer\": \"a\"}]", "field 'steps': empty"),
        (b"[{\"question\": \"q\", \"steps\": [\"s\", 3], \"answer\": \"a\"}]", "step 1 must be a non-empty string"),
        (b"[{\"question\": \"q\", \"steps\": [\"s\"], \"answer\": \" \"}]", "field 'answer': empty"),
    ],
)
def test_bad_files_are_rejected_with_file_record_and_field(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        load_records(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_sequence_text_and_answer_extraction(reference_dir):
    record = load_records(reference_dir / "prosqa_valid.json")[0]
    text = sequence_text(record)
    assert text == record["question"] + "\n" + "\n".join(record["steps"]) + "\n### " + record["answer"]
    assert extract_answer(text) == record["answer"]


def test_word_tokenizer_round_trips_and_saves(reference_dir, tmp_path):
    records = load_records(reference_dir / "prontoqa_valid.json")
    texts = [sequence_text(r) for r in records]
    tokenizer = build_word_tokenizer(texts[:150])
    for text in texts:  # the held-out records use the same closed vocabulary
        ids = tokenizer.encode(text)
        assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == text
    save_tokenizer(tokenizer, tmp_path / "tok")
    reloaded = load_tokenizer(tmp_path / "tok")
    assert tokenizer_checksum(reloaded) == tokenizer_checksum(tokenizer)
    assert reloaded.decode(reloaded.encode(texts[-1])) == texts[-1]


def test_dataset_parts_concatenate_to_the_whole_sequence(reference_dir):
    records = load_records(reference_dir / "prosqa_valid.json")[:30]
    tokenizer = build_word_tokenizer(sequence_text(r) for r in records)
    dataset = encode_records(tokenizer, records)
    for record, row in zip(records, dataset):
        whole = tokenizer.encode(sequence_text(record)) + [tokenizer.eos_token_id]
        assert row["prompt_ids"] + row["reasoning_ids"] + row["solution_ids"] == whole
        assert sum(row["step_lengths"]) == len(row["reasoning_ids"])
        assert len(row["step_lengths"]) == len(record["steps"])


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_records_encoded_in_blocks_match_one_at_a_time(reference_dir, kind):
    from token_assorted.lm.stand_in import build_bpe_tokenizer

    records = load_records(reference_dir / "prontoqa_valid.json")[:30]
    texts = [sequence_text(r) for r in records]
    tokenizer = build_word_tokenizer(texts) if kind == "word" else build_bpe_tokenizer(texts)
    dataset = encode_records(tokenizer, records, block=7)  # blocks of 7, 7, 7, 7, 2
    assert [row["index"] for row in dataset] == list(range(30))
    for record, row in zip(records, dataset):
        assert {key: row[key] for key in encode_record(tokenizer, record)} == encode_record(tokenizer, record)
    if kind == "bpe":  # its post-processor adds BOS to the prompt, and to nothing else
        assert dataset[0]["prompt_ids"][0] == tokenizer.bos_token_id != dataset[0]["reasoning_ids"][0]


def test_too_long_sequence_names_the_record(reference_dir):
    records = load_records(reference_dir / "prosqa_valid.json")[:5]
    tokenizer = build_word_tokenizer(sequence_text(r) for r in records)
    with pytest.raises(DataError, match=r"x.json, record 0, .*more than the model's limit of 10"):
        encode_records(tokenizer, records, max_length=10, file="x.json")
    # encoded in blocks, the record is still named by its place in the file
    lengths = [len(tokenizer.encode(sequence_text(r))) + 1 for r in records]  # + EOS
    first_too_long = next(i for i, n in enumerate(lengths) if n == max(lengths))
    with pytest.raises(DataError, match=rf"x.json, record {first_too_long}, "):
        encode_records(tokenizer, records, max_length=max(lengths) - 1, file="x.json", block=2)


def test_the_answer_mark_is_one_token():
    from token_assorted.data.tokenizer import split_words

    # a word at a line's start is the same token as inside a line (" E"): the normalizer puts a space before it
    assert split_words("E is a wumpus.\n### E is a wumpus.") == [
        " E", " is", " a", " wumpus", ".", "\n", " ###", " E", " is", " a", " wumpus", ".",
    ]


def test_rows_are_padded_on_either_side_with_the_mask_of_real_tokens():
    import torch

    from token_assorted.data.padding import padded

    ids, mask = padded([[1, 2, 3], [4], []], fill=0)
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0], [0, 0, 0]] and ids.dtype == torch.long
    assert mask.tolist() == [[True, True, True], [True, False, False], [False, False, False]]
    ids, mask = padded([[1, 2, 3], [4], []], fill=-1, left=True, width=4)
    assert ids.tolist() == [[-1, 1, 2, 3], [-1, -1, -1, 4], [-1, -1, -1, -1]]
    assert mask.tolist() == [[False, True, True, True], [False, False, False, True], [False] * 4]
