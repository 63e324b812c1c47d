"""Scale-out through Lightning: `trainer=ddp` on two CPU processes (gloo) gives the one-process result."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, make_config, write_reference_splits
from safetensors.torch import load_file

from token_assorted import finetune
from token_assorted.data.shards import shard
from token_assorted.resume import EpochBatches

pytestmark = pytest.mark.slow  # several processes each

FINETUNE = [
    "task=prosqa", "mode=cot", "base.use=false",
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "finetune.epochs=2", "finetune.batch_size=8", "finetune.lr=3e-3",
    "trainer.accelerator=cpu", "trainer.precision=32",
]
VQVAE = [
    "task=prosqa", "vqvae.dim=32", "vqvae.heads=2", "vqvae.prompt_layers=1", "vqvae.encoder_layers=1",
    "vqvae.decoder_layers=1", "vqvae.codebook_size=8", "vqvae.chunk_size=8", "vqvae.compression=4",
    "vqvae.train.epochs=2", "vqvae.train.batch_size=8", "vqvae.continuous_steps=2",
    "trainer.accelerator=cpu", "trainer.precision=32",
]
TWO_PROCESSES = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, reference_dir):
    """48 train records: 6 global batches of 8, so each of two processes takes 4 records per step."""
    return write_reference_splits(tmp_path_factory.mktemp("data"), 48, 8, 8)


def command(module: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *overrides], cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_global_batches_are_split_between_processes():
    sampler = EpochBatches(10, 4, seed=3)
    batches = sampler.batches()  # one process: the global batches
    assert sorted(i for b in batches for i in b) == list(range(10)) and [len(b) for b in batches] == [4, 4, 2]
    halves = [shard(batches, rank, 2) for rank in (0, 1)]
    assert [a + b for a, b in zip(*halves)] != batches  # interleaved, not halves
    assert [sorted(a + b) for a, b in zip(*halves)] == [sorted(b) for b in batches]
    sampler.set_epoch(1)
    assert sampler.batches() != batches


def test_finetune_on_two_processes_matches_one(data_dir, tmp_path):
    one = finetune.run(make_config(*FINETUNE, f"data.dir={data_dir}", f"out_dir={tmp_path / 'one'}"), progress=False)
    done = command("token_assorted.finetune", *FINETUNE, *TWO_PROCESSES, f"data.dir={data_dir}",
                   f"out_dir={tmp_path / 'two'}", "trainer.log_every_n_steps=1")
    assert done.returncode == 0, done.stderr[-3000:]
    two = tmp_path / "two" / "finetune" / "prosqa" / "cot"
    assert done.stdout.count("wrote ") == 1  # rank 0 alone saves and reports
    assert not two.with_name("cot.partial").exists()

    first, second = (json.loads((d / "meta.json").read_text()) for d in (one, two))
    assert first["config"]["trainer"]["devices"] == 1 and second["config"]["trainer"]["devices"] == 2
    assert first["steps"] == second["steps"] == 12  # the same global batches: 48 / 8 per epoch, 2 epochs
    assert first["tokens_seen"] == second["tokens_seen"]
    assert second["final_metrics"]["val_loss"] == pytest.approx(first["final_metrics"]["val_loss"], abs=1e-4)
    weights = [load_file(d / "model.safetensors") for d in (one, two)]
    assert weights[0].keys() == weights[1].keys()
    assert max(float((weights[0][k] - weights[1][k]).abs().max()) for k in weights[0]) < 1e-4


def test_vqvae_trains_on_two_processes_and_writes_once(data_dir, tmp_path):
    done = command("token_assorted.train_vqvae", *VQVAE, *TWO_PROCESSES, f"data.dir={data_dir}", f"out_dir={tmp_path}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("codes cached in") == 1
    directory = tmp_path / "vqvae" / "prosqa"
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["steps"] == 12  # global batches of 8, as on one process
    codes = json.loads((directory / "codes" / "train.json").read_text())["codes"]
    assert len(codes) == 48 and all(0 <= c < 8 for row in codes for c in row)


def test_a_diverging_vqvae_stops_every_process_with_one_clear_error(data_dir, tmp_path):
    done = command("token_assorted.train_vqvae", *VQVAE, *TWO_PROCESSES, "vqvae.train.lr=1e30",
                   f"data.dir={data_dir}", f"out_dir={tmp_path}")
    assert done.returncode == 2, done.stderr[-3000:]  # not a hang: the timeout would raise
    assert "error: training diverged" in done.stderr and "vqvae.train.lr=1e+30" in done.stderr
    assert not (tmp_path / "vqvae" / "prosqa" / "meta.json").exists()
