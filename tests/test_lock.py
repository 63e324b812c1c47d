"""Two runs on the same output directory: the second is refused while the first lives; a dead one never blocks."""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT, make_config

from token_assorted import generate_data
from token_assorted.errors import ToolkitError, reports_errors
from token_assorted.lock import DirectoryBusy, lock_file, run_lock

SMALL = ["task=prosqa", "task.sizes.train=4", "task.sizes.valid=2", "task.sizes.test=2"]

HOLDER = """
import sys, time
from token_assorted.lock import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process that holds the lock of data/prosqa, as a running generate_data would."""
    directory = tmp_path / "data" / "prosqa"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    yield process, directory
    if process.poll() is None:
        process.kill()
    process.wait()
    process.stdout.close()


def test_a_second_run_is_refused_while_the_first_lives_and_takes_over_when_it_is_killed(holder, tmp_path, capsys):
    process, directory = holder
    cfg = make_config(*SMALL, f"data.dir={tmp_path / 'data'}")
    with pytest.raises(DirectoryBusy, match=rf"another run \(pid {process.pid}\) is writing {directory}"):
        generate_data.run(cfg, progress=False)
    assert not directory.exists()  # refused before writing anything

    with pytest.raises(SystemExit) as exit_:  # on the command line: one line, status 2
        reports_errors(generate_data.run)(cfg, progress=False)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: another run")

    process.send_signal(signal.SIGKILL)
    process.wait()
    assert lock_file(directory).read_text().strip() == str(process.pid)  # the dead run's pid is still there
    assert generate_data.run(cfg, progress=False) == {"train": 4, "valid": 2, "test": 2}
    assert f"left by a run that ended without finishing (pid {process.pid})" in capsys.readouterr().out
    assert not lock_file(directory).exists()  # released and removed on exit
    assert json.loads((directory / "meta.json").read_text())["inputs"].keys() == {"train", "valid", "test"}


def test_lock_is_released_on_error_and_is_per_directory(tmp_path):
    with pytest.raises(ToolkitError, match="boom"):
        with run_lock(tmp_path / "a"):
            with run_lock(tmp_path / "b"):  # another directory: no conflict
                with pytest.raises(DirectoryBusy):
                    with run_lock(tmp_path / "a"):  # the same directory, even from this process
                        pass
                raise ToolkitError("boom")
    with run_lock(tmp_path / "a"):  # released by the error
        assert lock_file(tmp_path / "a").read_text().strip() == str(os.getpid())
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_every_writing_entry_point_takes_the_lock(tmp_path):
    from token_assorted import evaluate, finetune, train_vqvae
    from token_assorted.vqvae import __main__ as vqvae_main

    cfg = make_config("task=prosqa", "mode=cot", f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path / 'out'}")
    busy = {
        finetune: tmp_path / "out" / "finetune" / "prosqa" / "cot",
        train_vqvae: tmp_path / "out" / "vqvae" / "prosqa",
        vqvae_main: tmp_path / "out" / "vqvae" / "prosqa",
        evaluate: tmp_path / "out" / "eval" / "prosqa" / "cot",
        generate_data: tmp_path / "data" / "prosqa",
    }
    for stage, directory in busy.items():
        with run_lock(directory):
            with pytest.raises(DirectoryBusy, match=str(directory)):
                stage.run(cfg)


def test_a_command_that_fails_before_writing_leaves_no_folders_behind(tmp_path):
    from token_assorted import evaluate, finetune, train_vqvae

    paths = [f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path / 'out'}"]
    cfg = make_config("task=prosqa", "mode=cot", *paths)
    failing = {generate_data: make_config("task.sizes.train=0", *paths), train_vqvae: cfg, finetune: cfg, evaluate: cfg}
    for stage, stage_cfg in failing.items():
        with pytest.raises(ToolkitError):  # no data; for generate_data, a split of no records
            stage.run(stage_cfg)
    assert list(tmp_path.iterdir()) == []


def test_only_the_empty_folders_a_run_made_for_its_lock_are_removed(holder, tmp_path):
    process, directory = holder  # its lock file is in tmp_path/data
    with pytest.raises(ToolkitError):
        with run_lock(tmp_path / "data" / "a" / "b" / "c"):
            raise ToolkitError("failed before writing")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [".prosqa.lock"]  # a/ and a/b/ are gone
    (tmp_path / "kept").mkdir()
    with run_lock(tmp_path / "kept" / "new" / "run"):
        (tmp_path / "kept" / "new" / "run").mkdir()  # what the run wrote
    assert (tmp_path / "kept" / "new" / "run").is_dir()
    with run_lock(tmp_path / "kept" / "empty"):
        pass
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["new"]  # kept/ was there before
