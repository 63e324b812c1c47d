"""The loaded math tasks: fixtures in the raw formats -> Coconut records and splits, and their errors."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT, make_config

from token_assorted.records import load_records
from token_assorted.data.splits import generate
from token_assorted.errors import ConfigError, DataError
from token_assorted.tasks import get_task, math_fixtures
from token_assorted.tasks.loaded import Params
from token_assorted.tasks.math_answers import answers_match

SIZES = {"train": -1, "valid": 3, "test": 4}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return math_fixtures.write_fixtures(tmp_path_factory.mktemp("raw"), n=20, seed=3)


def test_fixtures_are_deterministic_and_sound():
    first, again, other = (math_fixtures.problems(30, seed) for seed in (0, 0, 1))
    assert [p.question for p in first] == [p.question for p in again]
    assert [p.question for p in first] != [p.question for p in other]
    assert len({p.question for p in first}) == 30
    kinds = {p.kind for p in first}
    assert kinds == {"number", "fraction"}
    for index, problem in enumerate(first):
        for step, following in zip(problem.steps, problem.steps[1:]):  # each step's result feeds the next
            assert step.value in (following.left, following.right)
        gsm8k = get_task("gsm8k").parse(math_fixtures.gsm8k_row(problem))
        math = get_task("math").parse(math_fixtures.math_row(problem, index))
        meta = get_task("metamathqa").parse(math_fixtures.metamathqa_row(problem, index))
        aug = get_task("gsm8k-aug").parse({"line": math_fixtures.gsm8k_aug_line(problem)})
        for record in (gsm8k, math, meta, aug):
            assert answers_match(record["answer"], math_fixtures.latex(problem.answer)), (record, problem.answer)
            assert record["steps"] and record["question"] == problem.question
        assert len(aug["steps"]) == len(problem.steps)


@pytest.mark.parametrize("task, key", [("gsm8k", "gsm8k"), ("math", "math"), ("metamathqa", "metamathqa"),
                                       ("gsm8k-aug", "gsm8k-aug")])
def test_loaded_splits(fixtures, task, key):
    splits = get_task(task).generate(Params(source=str(fixtures[key])), SIZES, seed=0)
    assert {s: len(r) for s, r in splits.items()} == {"train": 13, "valid": 3, "test": 4}
    questions = [r["question"] for rows in splits.values() for r in rows]
    assert len(set(questions)) == 20  # no record in two splits
    assert splits == get_task(task).generate(Params(source=str(fixtures[key])), SIZES, seed=0)
    assert splits != get_task(task).generate(Params(source=str(fixtures[key])), SIZES, seed=1)
    for rows in splits.values():
        for record in rows:
            assert "####" not in "".join(record["steps"]) and "The answer is:" not in "".join(record["steps"])


def test_gsm8k_record_layout(fixtures):
    rows = [json.loads(line) for line in fixtures["gsm8k"].read_text().splitlines()]
    big = next(row for row in rows if "#### " in row["answer"] and "," in row["answer"].split("####")[1])
    record = get_task("gsm8k").parse(big)
    assert "," not in record["answer"] and record["answer"].isdigit()
    assert record["steps"] == [line for line in big["answer"].split("\n####")[0].splitlines()]


def test_score_reads_the_answer_after_the_last_hash():
    score = get_task("gsm8k").score
    record = {"question": "q", "steps": ["s"], "answer": "1234"}
    assert score(record, "step\n### 1,234")["correct"]
    assert not score(record, "step\n### 1235")["correct"]
    math = {"question": "q", "steps": ["s"], "answer": "\\dfrac{3}{4}"}
    assert get_task("math").score(math, "### 0.75")["correct"]
    assert get_task("math").score(math, "### \\frac34.")["correct"]


@pytest.mark.slow
def test_generate_data_command_writes_splits(fixtures, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "token_assorted.generate_data", "task=gsm8k", f"data.dir={tmp_path}",
         f"task.params.source={fixtures['gsm8k']}", f"task.params.test_source={fixtures['gsm8k-test']}",
         "task.sizes.valid=5", "task.sizes.test=-1"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "train 15, valid 5, test 20" in done.stdout
    for split, size in {"train": 15, "valid": 5, "test": 20}.items():
        assert len(load_records(tmp_path / "gsm8k" / f"{split}.json")) == size
    test_questions = {json.loads(line)["question"] for line in fixtures["gsm8k-test"].read_text().splitlines()}
    assert [r["question"] for r in load_records(tmp_path / "gsm8k" / "test.json")] == [
        json.loads(line)["question"] for line in fixtures["gsm8k-test"].read_text().splitlines()
    ]  # the test file keeps its order
    assert not test_questions & {r["question"] for r in load_records(tmp_path / "gsm8k" / "train.json")}
    # the later stages need the sizes it was made with, not where its rows came from
    from token_assorted.data.splits import load_split

    assert len(load_split(make_config("task=gsm8k", f"data.dir={tmp_path}", "task.sizes.valid=5",
                                      "task.sizes.test=-1"), "train")) == 15
    with pytest.raises(ConfigError, match=r"task.sizes.valid=5 \(now 200\)"):
        load_split(make_config("task=gsm8k", f"data.dir={tmp_path}", "task.sizes.test=-1"), "train")


def test_parquet_source(fixtures, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = json.loads(fixtures["math"].read_text())
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "math.parquet")
    from_parquet = get_task("math").generate(Params(source=str(tmp_path / "math.parquet")), SIZES, seed=0)
    assert from_parquet == get_task("math").generate(Params(source=str(fixtures["math"])), SIZES, seed=0)


@pytest.mark.parametrize(
    "task, content, suffix, record, field",
    [
        ("gsm8k", '{"question": "q", "answer": "1 + 1 = 2\\n#### 2"}\n{"question": "q2", "answer": "no mark"}\n',
         ".jsonl", 1, "answer"),
        ("gsm8k", '{"question": "q", "answer": "#### 2"}\n', ".jsonl", 0, "answer"),
        # a row that parses but is no valid record: named here, not later at its place in a shuffled split
        ("gsm8k", '{"question": "q", "answer": "1 + 1 = 2\\n#### 2"}\n{"question": "q2", "answer": "x\\n#### 4 #note"}\n',
         ".jsonl", 1, "answer"),
        ("gsm8k", '[{"question": 3, "answer": "x\\n#### 2"}]', ".json", 0, "question"),
        ("math", '[{"problem": "p", "solution": "so $\\\\boxed{4}$"}, {"problem": "p"}]', ".json", 1, "solution"),
        ("math", '[{"problem": "p", "solution": "no box"}]', ".json", 0, "solution"),
        ("metamathqa", '[{"query": "q", "response": "2 + 2 = 4"}]', ".json", 0, "response"),
        ("gsm8k-aug", "q||<<1+1=2>> #### 2\nq2 <<1+1=2>> #### 2\n", ".txt", 1, "line"),
        ("gsm8k-aug", "q||no equations #### 2\n", ".txt", 0, "line"),
    ],
)
def test_bad_rows_name_file_record_and_field(tmp_path, task, content, suffix, record, field):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        get_task(task).generate(Params(source=str(path)), {"train": -1, "valid": 0, "test": 0}, seed=0)
    assert (caught.value.record, caught.value.field) == (record, field)
    assert str(path) in str(caught.value)


def test_bad_sources(tmp_path, fixtures):
    with pytest.raises(ConfigError, match="task.params.source"):
        generate(make_config("task=gsm8k", f"data.dir={tmp_path}"), progress=False)
    with pytest.raises(DataError, match="no such file"):
        get_task("gsm8k").generate(Params(source=str(tmp_path / "nope.jsonl")), SIZES, seed=0)
    with pytest.raises(DataError, match="no such file"):  # a relative path that looks like owner/name
        get_task("gsm8k").generate(Params(source="data/missing.jsonl"), SIZES, seed=0)
    from token_assorted.tasks.sources import is_hub_name

    assert is_hub_name("openai/gsm8k:main@test") and is_hub_name("meta-math/MetaMathQA")
    (tmp_path / "broken.jsonl").write_text('{"question": "q",\n')
    with pytest.raises(DataError, match="line 1"):
        get_task("gsm8k").generate(Params(source=str(tmp_path / "broken.jsonl")), SIZES, seed=0)
    # read as the toolkit's own record files are: a byte-order mark is fine, JSON nested too deep is one error
    rows = (tmp_path / "rows.jsonl")
    rows.write_bytes(b"\xef\xbb\xbf" + fixtures["gsm8k"].read_bytes())
    assert get_task("gsm8k").generate(Params(source=str(rows)), SIZES, seed=0) == get_task("gsm8k").generate(
        Params(source=str(fixtures["gsm8k"])), SIZES, seed=0)
    rows.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match="nested too deeply"):
        get_task("gsm8k").generate(Params(source=str(rows)), SIZES, seed=0)
    with pytest.raises(ConfigError, match="task.sizes.valid is 50"):
        get_task("gsm8k").generate(Params(source=str(fixtures["gsm8k"])), {"train": -1, "valid": 50, "test": 0}, 0)


@pytest.mark.slow
def test_bad_file_on_the_command_line_is_one_error_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"question": "q", "answer": "no mark"}\n')
    done = subprocess.run(
        [sys.executable, "-m", "token_assorted.generate_data", "task=gsm8k", f"data.dir={tmp_path}",
         f"task.params.source={tmp_path / 'bad.jsonl'}"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'bad.jsonl'}, record 0, field 'answer': no final '#### <answer>' line"
    ]


def test_math_preset_has_the_paper_settings():
    cfg = make_config("preset=math-1b")
    assert cfg.task.name == "metamathqa" and cfg.mode.name == "random-replace"
    assert cfg.model.path == "meta-llama/Llama-3.2-1B" and cfg.model.gradient_checkpointing
    assert (cfg.vqvae.chunk_size, cfg.vqvae.compression, cfg.vqvae.codebook_size) == (16, 16, 1024)
    assert list(cfg.mode.m_choices) == [0, 72, 128, 160, 192, 224, 256]
    assert cfg.trainer.precision.startswith("bf16")
    assert make_config("preset=math-1b", "task=gsm8k").task.name == "gsm8k"  # the test sets are made the same way
    # evaluated on a test set under the settings it trained under; the preset's other methods compose without them
    assert list(make_config("preset=math-1b", "task=gsm8k").mode.m_choices) == list(cfg.mode.m_choices)
    assert make_config("preset=math-1b", "mode=cot").mode.name == "cot"


def test_splits_are_stale_when_the_source_file_changes(tmp_path, fixtures):
    from token_assorted.data.splits import splits_are_current

    source = tmp_path / "gsm8k.jsonl"
    source.write_text(fixtures["gsm8k"].read_text())
    cfg = make_config("task=gsm8k", f"data.dir={tmp_path}", f"task.params.source={source}", "task.sizes.test=2",
                      "task.sizes.valid=2")
    generate(cfg, progress=False)
    assert splits_are_current(cfg)
    source.write_text("".join(fixtures["gsm8k"].read_text().splitlines(keepends=True)[:-1]))
    assert not splits_are_current(cfg)


def test_hub_names_go_to_datasets_with_config_and_split(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(name, config=None, split=None):
        calls.append((name, config, split))
        return [{"question": f"q {split}", "answer": "1 + 1 = 2\n#### 2"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)  # never the network in tests
    splits = get_task("gsm8k").generate(
        Params(source="openai/gsm8k:main", test_source="openai/gsm8k:main@test"),
        {"train": -1, "valid": 0, "test": -1}, seed=0,
    )
    assert calls == [("openai/gsm8k", "main", "train"), ("openai/gsm8k", "main", "test")]
    assert [r["question"] for r in splits["train"]] == ["q train"] and splits["test"][0]["question"] == "q test"
