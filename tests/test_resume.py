"""Training killed with SIGKILL mid-epoch and run again with the same command ends as an uninterrupted run."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import lightning as L
import pytest
import torch
from conftest import ROOT, make_config
from safetensors.torch import load_file

from token_assorted import finetune, train_vqvae
from token_assorted.records import load_records, write_records
from token_assorted.io import sha256, write_meta
from token_assorted.resume import EpochBatches, merged_logs

VQVAE = [
    "task=prosqa", "vqvae.chunk_size=8", "vqvae.compression=4", "vqvae.codebook_size=16", "vqvae.dim=32",
    "vqvae.heads=2", "vqvae.prompt_layers=1", "vqvae.encoder_layers=1", "vqvae.decoder_layers=1",
    "vqvae.train.epochs=2", "vqvae.train.batch_size=2",
    "vqvae.continuous_steps=2",  # random k-means init before the kill, random re-seeding after
    "trainer.log_every_n_steps=1",
]
VQVAE_RUN = [*VQVAE, "trainer.checkpoint_every_n_steps=3"]  # 20 steps an epoch: every checkpoint is mid-epoch
FINETUNE = [
    *VQVAE, "mode=random-replace", "base.use=false",  # the VQ-VAE's codes, m drawn per sample per epoch
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "finetune.epochs=2", "finetune.batch_size=2", "trainer.checkpoint_every_n_steps=3",  # 20 steps an epoch
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, reference_dir):
    records = load_records(reference_dir / "prosqa_valid.json")
    root = tmp_path_factory.mktemp("data")
    directory = root / "prosqa"
    splits = {"train": records[:40], "valid": records[40:46], "test": records[46:50]}
    for split, rows in splits.items():
        write_records(directory / f"{split}.json", rows)
    write_meta(directory, config={}, seed=0, inputs={s: sha256(directory / f"{s}.json") for s in splits})
    return root


@pytest.fixture(scope="module")
def whole(data_dir, tmp_path_factory):
    """Uninterrupted runs: the VQ-VAE, then the fine-tune on its codes."""
    out = tmp_path_factory.mktemp("whole")
    metrics = train_vqvae.run(make_config(*VQVAE_RUN, f"data.dir={data_dir}", f"out_dir={out}"), progress=False)
    final = finetune.run(make_config(*FINETUNE, f"data.dir={data_dir}", f"out_dir={out}"), progress=False)
    return out, metrics, final


def command(module: str, overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", f"token_assorted.{module}", *overrides]


def logged_steps(logs) -> int:
    """Training-step rows flushed to an attempt's CSV log so far."""
    files = list(logs.glob("*/metrics.csv"))
    if not files:
        return 0
    with open(files[0], newline="") as log:
        return sum(1 for row in csv.DictReader(log) if row.get("train_loss"))


def kill_after_first_checkpoint(cmd: list[str], checkpoint, timeout: float = 120, ready=lambda: True) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not (checkpoint.exists() and ready()):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()


def rerun(stage, overrides: list[str], capsys):
    """The same command again; in this process, which spares the tests a second interpreter start."""
    capsys.readouterr()
    result = stage.run(make_config(*overrides), progress=False)
    assert "resuming from" in capsys.readouterr().out
    return result


def untimed(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if "second" not in k}


def same_weights(first, second) -> bool:
    a, b = load_file(first), load_file(second)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def resume_position(checkpoint) -> dict:
    state = torch.load(checkpoint, weights_only=False)
    return next(v for k, v in state["callbacks"].items() if k.startswith("ResumeState"))


@pytest.mark.slow
def test_train_vqvae_resumes_after_sigkill(data_dir, whole, tmp_path, capsys):
    reference, metrics, _ = whole
    overrides = [*VQVAE_RUN, f"data.dir={data_dir}", f"out_dir={tmp_path}"]
    cmd = command("train_vqvae", overrides)
    run = tmp_path / "vqvae" / "prosqa"
    kill_after_first_checkpoint(cmd, run / "checkpoints" / "last.ckpt")
    assert not (run / "meta.json").exists()  # a killed run leaves nothing a later stage would take as finished
    assert 0 < resume_position(run / "checkpoints" / "last.ckpt")["done"] < 20  # killed inside an epoch

    rerun(train_vqvae, overrides, capsys)
    resumed = json.loads((run / "metrics.json").read_text())
    assert untimed(resumed) == untimed(metrics) and resumed["steps"] == 40
    expected = reference / "vqvae" / "prosqa"
    assert same_weights(expected / "model" / "model.safetensors", run / "model" / "model.safetensors")
    for split in ("train", "valid", "test"):
        codes = [json.loads((d / "codes" / f"{split}.json").read_text())["codes"] for d in (expected, run)]
        assert codes[0] == codes[1]


@pytest.mark.slow
def test_finetune_resumes_after_sigkill(data_dir, whole, tmp_path, capsys):
    reference, _, expected = whole
    shutil.copytree(reference / "vqvae", tmp_path / "vqvae")
    overrides = [*FINETUNE, f"data.dir={data_dir}", f"out_dir={tmp_path}"]
    cmd = command("finetune", overrides)
    final = tmp_path / "finetune" / "prosqa" / "random-replace"
    last = final.with_name("random-replace.partial") / "checkpoints" / "last.ckpt"
    # killed once the log rows of the steps before the checkpoint are flushed too: a kill in the instant between
    # a checkpoint and that flush loses the last step's log row (README, "When things go wrong")
    logs = final.with_name("random-replace.partial") / "logs"
    kill_after_first_checkpoint(cmd, last, ready=lambda: logged_steps(logs) >= torch.load(last, weights_only=False)["global_step"])
    assert not final.exists()  # a killed run leaves nothing a later stage would take as finished
    assert 0 < resume_position(last)["done"] < 20  # killed inside an epoch

    rerun(finetune, overrides, capsys)
    first, second = (json.loads((d / "meta.json").read_text()) for d in (expected, final))
    assert untimed(first["final_metrics"]) == untimed(second["final_metrics"])
    assert (second["tokens_seen"], second["steps"]) == (first["tokens_seen"], 40)
    assert same_weights(expected / "model.safetensors", final / "model.safetensors")
    with open(final / "train_log.csv", newline="") as log:  # both attempts' logs, each step once
        steps = [int(row["step"]) for row in csv.DictReader(log) if row["train_loss"]]
    assert steps == list(range(40))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_with_a_checkpoint_and_says_how_to_resume(data_dir, whole, tmp_path, capsys, sig):
    reference, _, expected = whole
    shutil.copytree(reference / "vqvae", tmp_path / "vqvae")
    overrides = [*FINETUNE, f"data.dir={data_dir}", f"out_dir={tmp_path}", "trainer.checkpoint_every_n_steps=1000"]
    final = tmp_path / "finetune" / "prosqa" / "random-replace"
    logs = final.with_name("random-replace.partial") / "logs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command("finetune", overrides), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while logged_steps(logs) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    step = int(err.split("interrupted at step ")[1].split(";")[0])
    assert f"{sig.name}: interrupted at step {step}; run the same command to resume" in err
    last = final.with_name("random-replace.partial") / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == step  # no checkpoint was due before: this is it
    rerun(finetune, overrides, capsys)
    assert same_weights(expected / "model.safetensors", final / "model.safetensors")


def test_merged_logs_leave_out_a_row_cut_short_by_a_kill(tmp_path):
    first, second = tmp_path / "version_0.csv", tmp_path / "version_1.csv"
    # Lightning's columns, sorted; killed while writing step 12's row
    first.write_text("epoch,step,train_loss\r\n0,10,1.5\r\n0,11,1.4\r\n0,1")
    second.write_text("epoch,step,train_loss\r\n0,12,1.3\r\n0,13,1.2\r\n")
    rows = list(csv.DictReader(merged_logs([first, second]).splitlines()))
    assert [(row["step"], row["train_loss"]) for row in rows] == [("10", "1.5"), ("11", "1.4"), ("12", "1.3"), ("13", "1.2")]


class Crash(Exception):
    pass


def test_each_seed_shuffles_every_epoch_its_own_way():
    def order(seed, epoch):
        batches = EpochBatches(100, 10, seed=seed)
        batches.set_epoch(epoch)
        return batches.batches()

    assert order(0, 1) == order(0, 1)  # fixed by (seed, epoch), which is what resuming relies on
    assert order(0, 1) != order(1, 0) and order(0, 0) != order(0, 1)  # no seed replays another's orders


def test_a_rerun_after_a_crash_while_saving_the_model_trains_nothing_again(
    data_dir, whole, tmp_path, capsys, monkeypatch
):
    reference, _, expected = whole
    shutil.copytree(reference / "vqvae", tmp_path / "vqvae")
    overrides = [*FINETUNE, f"data.dir={data_dir}", f"out_dir={tmp_path}"]

    def crash(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(finetune, "write_meta", crash)
    with pytest.raises(Crash):
        finetune.run(make_config(*overrides), progress=False)
    monkeypatch.undo()
    final = tmp_path / "finetune" / "prosqa" / "random-replace"
    assert not final.exists() and (final.with_name("random-replace.partial") / "checkpoints" / "last.ckpt").is_file()

    rerun(finetune, overrides, capsys)
    first, second = (json.loads((d / "meta.json").read_text()) for d in (expected, final))
    assert (second["tokens_seen"], second["steps"]) == (first["tokens_seen"], 40)
    assert second["final_metrics"]["val_loss"] == first["final_metrics"]["val_loss"]
    assert same_weights(expected / "model.safetensors", final / "model.safetensors")
    # the training time is the first attempt's, restored: not the rerun's instant, which would inflate tokens/s
    assert second["tokens_per_second"] < 3 * first["tokens_per_second"]
    assert (final / "checkpoints" / "last.ckpt").is_file() and not final.with_name("random-replace.partial").exists()


class CrashAt(L.Callback):
    """Dies as the given optimizer step starts, like a run killed just after the checkpoint before it landed."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise Crash


@pytest.mark.parametrize(
    "every, crash_at",
    [
        ("10", 20),  # as the second epoch starts: resumes from step 19, one batch before the first epoch's end
        ("100", 25),  # no step checkpoint yet: the same
        ("7", 38),  # after the checkpoint at step 35, in the second epoch
    ],
)
def test_finetune_resumes_from_checkpoints_at_epoch_boundaries(
    data_dir, whole, tmp_path, capsys, monkeypatch, every, crash_at
):
    reference, _, expected = whole
    shutil.copytree(reference / "vqvae", tmp_path / "vqvae")
    overrides = [*FINETUNE, f"data.dir={data_dir}", f"out_dir={tmp_path}", f"trainer.checkpoint_every_n_steps={every}"]
    make_trainer = finetune.make_trainer
    monkeypatch.setattr(finetune, "make_trainer", lambda cfg, work, callbacks, progress: make_trainer(
        cfg, work, [*callbacks, CrashAt(crash_at)], progress))
    with pytest.raises(Crash):
        finetune.run(make_config(*overrides), progress=False)
    monkeypatch.setattr(finetune, "make_trainer", make_trainer)
    final = rerun(finetune, overrides, capsys)
    first, second = (json.loads((d / "meta.json").read_text()) for d in (expected, final))
    assert untimed(first["final_metrics"]) == untimed(second["final_metrics"])
    assert (second["tokens_seen"], second["steps"]) == (first["tokens_seen"], 40)
    assert same_weights(expected / "model.safetensors", final / "model.safetensors")


def test_curriculum_stage_survives_a_crash_in_the_second_stage(data_dir, whole, tmp_path, capsys, monkeypatch):
    reference, _, _ = whole
    curriculum = [*FINETUNE, f"data.dir={data_dir}", "mode=curriculum-replace", "mode.stage_caps=[0,8]"]
    for out in ("a", "b"):
        shutil.copytree(reference / "vqvae", tmp_path / out / "vqvae")
    expected = finetune.run(make_config(*curriculum, f"out_dir={tmp_path / 'a'}"), progress=False)
    overrides = [*curriculum, f"out_dir={tmp_path / 'b'}"]
    make_trainer = finetune.make_trainer
    monkeypatch.setattr(finetune, "make_trainer", lambda cfg, work, callbacks, progress: make_trainer(
        cfg, work, [*callbacks, CrashAt(26)], progress))
    with pytest.raises(Crash):
        finetune.run(make_config(*overrides), progress=False)
    monkeypatch.setattr(finetune, "make_trainer", make_trainer)
    final = rerun(finetune, overrides, capsys)  # resumes from step 24, in the second epoch: stage 1
    first, second = (json.loads((d / "meta.json").read_text()) for d in (expected, final))
    assert first["curriculum_stage"] == second["curriculum_stage"] == 1
    assert untimed(first["final_metrics"]) == untimed(second["final_metrics"]) and "stage" in second["final_metrics"]
    assert same_weights(expected / "model.safetensors", final / "model.safetensors")
