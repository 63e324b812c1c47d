"""The generate_data command, the config checks, and tokenization of every task's records."""

import subprocess
import sys

import pytest

from token_assorted.data import get_tokenizer, load_dataset, load_split, sequence_text
from token_assorted.generate_data import run
from token_assorted.tasks import TASKS, get_task
from token_assorted.tasks.base import generate_splits
from token_assorted.errors import ConfigError

from conftest import ROOT, make_config

SMALL = ["task.sizes.train=300", "task.sizes.valid=40", "task.sizes.test=40"]


def generate_data(*overrides):
    return subprocess.run(
        [sys.executable, "-m", "token_assorted.generate_data", *overrides],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
def test_command_writes_splits_and_reports_counts(tmp_path):
    result = generate_data("task=prosqa", f"data.dir={tmp_path}", *SMALL)
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path}/prosqa/{{train,valid,test}}.json" in result.stdout
    assert "train 300, valid 40, test 40" in result.stdout
    assert sorted(p.name for p in (tmp_path / "prosqa").iterdir()) == ["meta.json", "test.json", "train.json", "valid.json"]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_same_seed_gives_byte_identical_files(tmp_path, task):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        run(make_config(f"task={task}", f"data.dir={tmp_path / name}", f"data.seed={seed}", *SMALL), progress=False)
    for split in ("train", "valid", "test", "meta"):
        a, b, c = ((tmp_path / n / task / f"{split}.json").read_bytes() for n in "abc")
        assert a == b
        assert a != c


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["task=nosuchtask"], "error: unknown task 'nosuchtask'; choose one of: gsm8k, gsm8k-aug, math, maze, metamathqa, prontoqa, prosqa"),
        (["task.nme=prosqa"], "error: unknown setting 'task.nme'"),
        (["task=maze", "+task.params.rooms_=2"], "unknown keys ['rooms_']"),
        (["mode=nosuchmode"], "error: unknown mode 'nosuchmode'"),
        # mazes are redrawn until one fits, but not forever
        (["task=maze", "+task.params.max_trace=5"], "error: task.params.max_trace=5: none of 10,000 mazes drawn had"),
        (["task=maze", "+task.params.max_trace=abc"], "error: maze max_trace must be a whole number of trace events"),
        (["task=prontoqa", "task.params.hops=7"], "error: prontoqa hops must be a whole number from 1 to 5, got 7"),
        (["task=prontoqa", "task.train_mix.hops=[1,9]"], "error: prontoqa hops must be a whole number from 1 to 5, got 9"),
        (["task=prontoqa", "+task.train_mix.hop=[1]"], "error: task.train_mix for 'prontoqa' has unknown keys ['hop']"),
        (["task=prontoqa", "task.train_mix.hops=2"], "error: task.train_mix.hops is a list: write 'task.train_mix.hops=[2]'"),
        (["task=prosqa", "+task.train_mix.max_hops=[2,3]"], "error: prosqa needs whole numbers 1 <= min_hops <= max_hops"),
        (["task=gsm8k", "+task.train_mix.source=[a]"], "error: task.train_mix: 'gsm8k' is read from a data set"),
    ],
)
@pytest.mark.slow
def test_config_mistakes_fail_with_one_clear_message(tmp_path, overrides, message):
    result = generate_data(*overrides, f"data.dir={tmp_path}")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_spent_generator_is_an_error_not_an_endless_loop():
    ten_keys = {"sample": lambda rng, params: {"question": str(rng.randrange(10))}, "params": None,
                "key": lambda record: record["question"]}
    assert len(generate_splits(**ten_keys, sizes={"train": 7, "test": 3}, seed=0, progress=False)["test"]) == 3
    with pytest.raises(ConfigError, match=r"ran out of new records after 10, short of the 12 that task.sizes asks for "
                                          r"\(train: 8\); lower task.sizes or make the task larger"):
        generate_splits(**ten_keys, sizes={"train": 8, "test": 4}, seed=0, progress=False)


def test_the_gpu_preset_asks_the_cpu_sized_maze_for_no_more_than_it_has():
    # 200,000 records a task, but the maze at its default size has about 71,600 (conf/preset_task/gpu-maze.yaml)
    assert make_config("task=maze", "preset=gpu").task.sizes.train == 60000
    assert make_config("task=prosqa", "preset=gpu").task.sizes.train == 200000
    assert make_config("task=maze", "preset=gpu", "task.sizes.train=7").task.sizes.train == 7  # overrides still win


def test_the_default_preset_tests_prosqa_at_the_cpu_size_and_the_paper_presets_at_coconuts():
    default, paper = make_config("task=prosqa"), make_config("task=prosqa", "preset=paper")
    assert dict(default.task.params) == {"nodes": 16, "min_nodes": 12, "min_hops": 3, "max_hops": 3}
    assert dict(default.task.train_mix) == {"min_hops": [1, 2, 3]}
    assert dict(paper.task.params) == {"nodes": 28, "min_nodes": 2, "min_hops": 3, "max_hops": 6}
    assert not paper.task.train_mix and make_config("task=prosqa", "preset=gpu").task.params.nodes == 28
    for task, steps in (("prosqa", 12000), ("prontoqa", 4500)):  # each base model sees each record once
        config = make_config(f"task={task}")
        assert config.base.train.max_steps == steps
        assert config.task.sizes.train == steps * config.base.train.batch_size


def test_unknown_task_name_in_the_api():
    with pytest.raises(ConfigError, match="unknown task 'foo'; choose one of: gsm8k, gsm8k-aug, math, maze, metamathqa, prontoqa, prosqa"):
        get_task("foo")


@pytest.mark.parametrize("task", sorted(TASKS))
def test_config_sizes_match_the_task_defaults(task):
    # the paper's preset keeps each task's own sizes (the default one gives ProntoQA's base model more records)
    assert dict(make_config(f"task={task}", "preset=paper").task.sizes) == get_task(task).SPLITS


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_record_round_trips_through_the_tokenizer(tmp_path, task):
    # the tokenizer is built from the training split alone: the maze's rarest cells (c20, c21) come about once in
    # 150 records, so its training split here is large enough to hold every cell, as the 8,000 of its default are
    train = ["task.sizes.train=1000"] if task == "maze" else []
    cfg = make_config(f"task={task}", f"data.dir={tmp_path}", *SMALL, *train)
    run(cfg, progress=False)
    tokenizer = get_tokenizer(cfg)
    for split in ("train", "valid", "test"):
        records = load_split(cfg, split)
        for record in records:
            text = sequence_text(record)
            ids = tokenizer.encode(text)
            assert tokenizer.unk_token_id not in ids
            assert tokenizer.decode(ids) == text
        dataset = load_dataset(cfg, split, tokenizer)
        assert len(dataset) == len(records)
        assert all(row["solution_ids"][-1] == tokenizer.eos_token_id for row in dataset)


def test_tokenizer_is_rebuilt_when_the_training_data_changes(tmp_path):
    cfg = make_config("task=prontoqa", f"data.dir={tmp_path}", *SMALL)
    run(cfg, progress=False)
    stamp = tmp_path / "prontoqa" / "tokenizer" / "built_from.txt"
    get_tokenizer(cfg)
    first = stamp.read_text()
    cfg = make_config("task=prontoqa", f"data.dir={tmp_path}", "data.seed=5", *SMALL)
    run(cfg, progress=False)
    get_tokenizer(cfg)
    assert stamp.read_text() != first


def test_a_training_mix_is_part_of_what_made_the_splits(tmp_path):
    mixed = ["task=prontoqa", f"data.dir={tmp_path}", "task.params.hops=3", "task.train_mix.hops=[1,2,3]", *SMALL]
    run(make_config(*mixed), progress=False)
    train = load_split(make_config(*mixed), "train")
    assert {len(record["steps"]) - 1 for record in train} == {1, 2, 3}
    assert {len(record["steps"]) - 1 for record in load_split(make_config(*mixed), "test")} == {3}
    # the same splits under another mix are other splits: refused, not read as if they were these
    with pytest.raises(ConfigError, match=r"generated under other settings \(task.train_mix.hops=\[1, 2, 3\] \(now \[2\]\)\)"):
        load_split(make_config(*mixed[:3], "task.train_mix.hops=[2]", *SMALL), "train")
