"""`python -m token_assorted.bench` on a tiny configuration: every section runs and results.json has its keys."""

import gc
import json

import pytest
from hydra import compose, initialize_config_dir

from token_assorted import bench, evaluate  # noqa: F401
from token_assorted.bench.__main__ import run
from token_assorted.bench.inference import curve_points
from token_assorted.bench.measure import fit_exponent, spread
from token_assorted.bench.report import markdown
from token_assorted.bench.training import finetune_precisions, vqvae_speed
from token_assorted.data.splits import generate
from token_assorted.pipeline import stage_config

from conftest import ROOT

TINY = [
    "base.use=false",  # from model.*, not from a base model (tests that want one set base.use=true)
    "task=prosqa", "task.sizes.train=48", "task.sizes.valid=8", "task.sizes.test=8",
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "vqvae.dim=32", "vqvae.heads=2", "vqvae.encoder_layers=1", "vqvae.decoder_layers=1", "vqvae.prompt_layers=1",
    "vqvae.train.epochs=1", "vqvae.train.batch_size=16", "finetune.epochs=1", "finetune.batch_size=16",
    "task.max_new_tokens=24",
    "bench.tasks=[prosqa]", "bench.repeats=2", "bench.problems=4", "bench.train_steps=2", "bench.slow_bf16_steps=1",
    "bench.encode_records=8",
    "bench.growth_records=8", "bench.growth_scales=[1,2]", "bench.curve_points=2",
    "bench.large_model=tiny-assistant", "bench.large_model_batch=2", "bench.large_model_steps=1",
]


def test_statistics():
    assert spread([3.0, 1.0, 2.0, None]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
    assert fit_exponent([1, 2, 4], [3.0, 6.0, 12.0]) == 1.0
    assert abs(fit_exponent([1, 2, 4], [1.0, 4.0, 16.0]) - 2.0) < 1e-9
    assert curve_points(12, 4) == [0, 4, 8, 12] and curve_points(0, 4) == [0]


def test_a_task_sets_its_own_bench_problems_and_the_command_line_still_wins():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        maze, prosqa = (stage_config([], task=task, mode="cot").bench.problems for task in ("maze", "prosqa"))
        chosen = stage_config(["bench.problems=3"], task="maze", mode="cot").bench.problems
    assert maze < prosqa and chosen == 3  # 10 maze problems sample 100 answers


def test_peak_memory_counts_what_a_block_allocates_even_where_freed_pages_could_be_reused():
    import torch

    from token_assorted.bench.measure import measured

    freed = torch.ones(7 * 2**20)  # 28 MB, mapped and freed: glibc then keeps pieces of that size for reuse
    del freed

    def allocate_40_mb():
        pieces = [torch.ones(2**18) for _ in range(40)]
        del pieces

    for _ in range(2):  # the second block may reuse the first one's pages: it still counts them
        with measured(torch.device("cpu")) as cost:
            assert gc.get_freeze_count() > 0  # what was alive before stays out of the block's collections
            allocate_40_mb()
        assert gc.get_freeze_count() == 0
        assert 30 < cost["peak_mb"] < 60 and cost["seconds"] > 0


@pytest.mark.slow
def test_bench_writes_every_figure(tmp_path, capsys, monkeypatch):
    # as on a CPU without bf16 arithmetic: the VQ-VAE's and the large model's bf16 runs are left out (the tiny
    # model's runs on bench.slow_bf16_steps of its batches; the VQ-VAE's with bf16 arithmetic is run at the end)
    monkeypatch.setattr("token_assorted.bench.__main__.bf16_where_fast", lambda accelerator: "32-true")
    overrides = [*TINY, f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path / 'outputs'}"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        run(compose(config_name="config", overrides=overrides), overrides=overrides)
    printed = capsys.readouterr().out
    directory = tmp_path / "outputs" / "bench"
    results = json.loads((directory / "results.json").read_text())
    assert (tmp_path / "outputs" / "finetune" / "prosqa" / "random-replace" / "meta.json").is_file()
    assert results["code_choice"] == "token" and "code_choice" not in printed
    assert "CPU bf16 arithmetic: " in results["where"] and "trainer.precision" in results["where"]  # explains bf16
    pooled = markdown({**results, "code_choice": "pooled"})
    assert "Latent codes chosen as one (eval.code_choice=pooled)." in pooled and "chosen as one" not in printed

    task = results["inference"]["prosqa"]
    for model in ("cot", "random-replace"):
        assert task[model]["seconds_per_solved"].keys() >= {"median", "min", "max"}
        assert task[model]["seconds_per_problem"]["runs"] == 2 and task[model]["generated_tokens"]["median"] > 0
    assert task["ratio"]["generated_tokens"]["median"] > 0 and "seconds_per_solved" in task["ratio"]

    training = results["training"]
    speedup = [key for key in training if "bf16" in key and "speedup" in key]
    assert speedup and training[speedup[0]]["median"] > 0
    assert training["bf16_steps"] == 1 and "bf16 timed on | the first 1 batches (fp32: all)" in printed
    assert training["collate_ms_per_batch"]["median"] > 0
    assert training["vqvae_encode_samples_per_s"]["median"] > 0 and training["vqvae_bf16_speedup"]["runs"] == 0
    assert training["vqvae_train_samples_per_s_fp32"]["median"] > 0 and "VQ-VAE: bf16 | not measured" in printed
    assert training["gpu"] is None  # no GPU in the tests
    large = training["large_model"]
    assert large["model"] == "tiny-assistant" and large["finetune_tokens_per_s_fp32"]["median"] > 0
    assert large["bf16_speedup"]["runs"] == 0 and "tiny-assistant: bf16 | not measured" in printed

    for stage in ("generate_data", "vqvae_encode", "finetune_epoch"):
        growth = results["growth"][stage]
        assert growth["records"] == [8, 16] and len(growth["seconds"]) == 2 and growth["time_exponent"] is not None

    curve = results["curve"]["prosqa"]
    assert curve[0]["k"] == 0 and curve[-1]["k"] > 0
    assert curve[0]["latent_tokens"]["median"] == 0  # k = 0 keeps latents out
    assert curve[-1]["latent_tokens"]["median"] >= curve[-1]["k"] + 2  # the forced block and its delimiters

    for name in ("report.md", "inference.png", "latency_accuracy.png", "growth.png"):
        assert (directory / name).stat().st_size > 0
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        vqvae = vqvae_speed(stage_config(overrides, task="prosqa", mode="random-replace"), repeats=1, steps=1,
                            encode_records=2, with_bf16=True)
    assert all(vqvae[f"vqvae_train_samples_per_s_{p}"]["median"] > 0 for p in ("fp32", "bf16"))
    assert vqvae["vqvae_bf16_speedup"]["median"] > 0
    assert "ratio random-replace / cot" in printed and "## Growth" in printed
    assert "tiny-assistant (batch 2): finetune_tokens_per_s_fp32" in printed

    # the inference figures are an evaluation's, run as `evaluate` runs it on those problems
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        for mode in ("cot", "random-replace"):
            evaluated = evaluate.run(stage_config([*overrides, "eval.limit=4"], task="prosqa", mode=mode), progress=False)
            figures = results["inference"]["prosqa"][mode]
            assert (figures["accuracy"]["median"], figures["generated_tokens"]["median"]) == (
                evaluated["accuracy"], evaluated["generated_tokens"])


def bf16_four_times_slower(model, batches, device, bf16):
    """A stand-in for train_steps: a step takes 1 s in fp32 and 4 s in bf16 on every batch."""
    per_step = 4.0 if bf16 else 1.0
    return {"tokens_per_s": 1.0 / per_step, "seconds": per_step * len(batches),
            "elapsed": [per_step * (i + 1) for i in range(len(batches))], "peak_mb": 0.0}


def test_bf16_on_a_few_batches_is_compared_with_fp32_on_the_same_ones(tmp_path, monkeypatch):
    overrides = [*TINY, "finetune.batch_size=4", f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path / 'outputs'}"]
    monkeypatch.setattr("token_assorted.bench.training.train_steps", bf16_four_times_slower)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        cfg = stage_config(overrides, task="prosqa", mode="cot")
        generate(cfg, progress=False)
        few = finetune_precisions(cfg, repeats=1, steps=6, bf16_steps=2)
        none = finetune_precisions(cfg, repeats=1, steps=6, bf16_steps=0)
    assert few["bf16_steps"] == 2 and few["bf16_speedup"]["median"] == 0.25  # 2 s against 8, not 6 against 8
    assert none["bf16_steps"] == 0 and none["bf16_speedup"]["runs"] == 0 and none["finetune_tokens_per_s_fp32"]["runs"] == 1
