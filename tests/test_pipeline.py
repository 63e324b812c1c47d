"""The whole `make eval` job on a tiny configuration: every stage runs once, then everything is reused."""

import json

import pytest
from hydra import compose, initialize_config_dir

from token_assorted import evaluate, pipeline
from token_assorted.errors import ConfigError
from token_assorted.io import checkpoint_checksum

from conftest import ROOT

TINY = [
    "base.use=false",  # from model.*, not from a base model (tests that want one set base.use=true)
    "task.sizes.train=48", "task.sizes.valid=8", "task.sizes.test=8",
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "vqvae.dim=32", "vqvae.heads=2", "vqvae.encoder_layers=1", "vqvae.decoder_layers=1",
    "vqvae.train.epochs=1", "vqvae.train.batch_size=16", "finetune.epochs=1", "finetune.batch_size=16",
    "'pipeline.tasks=[prosqa]'", "'pipeline.methods=[cot,random-replace]'",
]


def overrides_for(tmp_path, *more) -> list[str]:
    overrides = [*TINY, f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path / 'outputs'}", *more]
    return [o.strip("'") for o in overrides]


def run_pipeline(tmp_path, capfd, workers, *more):
    overrides = overrides_for(tmp_path, f"pipeline.workers={workers}", *more)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        results = pipeline.run(compose(config_name="config", overrides=overrides), overrides=overrides)
    return results, capfd.readouterr().out


def planned(tmp_path, *more, methods=("cot", "random-replace")) -> dict:
    """{job: ([its stages], the jobs it waits for)} that `make eval` would run, without running them (but for the
    data, which it makes first)."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        pipeline.prepare_task(overrides_for(tmp_path, *more), "prosqa")
        jobs = pipeline.plan_task(overrides_for(tmp_path, *more), "prosqa", list(methods))
    return {job.name: ([stage.label.split(": ")[1] for stage in job.stages], job.after) for job in jobs}


def evaluation_is_current(tmp_path, mode: str, *more) -> bool:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        return evaluate.is_current(pipeline.stage_config(overrides_for(tmp_path, *more), task="prosqa", mode=mode))


@pytest.mark.slow
def test_pipeline_runs_every_stage_then_reuses_them(tmp_path, capfd):
    results, printed = run_pipeline(tmp_path, capfd, workers=2)  # jobs in two worker processes
    stages = ["prosqa: generate data", "prosqa: train VQ-VAE"]
    stages += [f"prosqa/{mode}: {step}" for mode in ("cot", "random-replace") for step in ("fine-tune", "evaluate")]
    for stage in stages:
        assert f"=== {stage}\n" in printed
    written = json.loads((tmp_path / "outputs" / "eval" / "summary.json").read_text())
    summary, made = written["results"], written["made"]
    assert set(summary) == {"prosqa"} and set(summary["prosqa"]) == {"cot", "random-replace"}
    # what the report was made under, as its header line says
    assert made["tasks"] == {"prosqa": {"train": 48, "tested": 8}}
    assert {"commit", "date", "machine", "wall_seconds"} <= made.keys()
    for run in summary["prosqa"].values():
        keys = ("accuracy", "generated_tokens", "latent_tokens", "text_tokens", "seconds_per_solved", "grounded_steps")
        for key in keys:
            assert key in run
    assert summary["prosqa"]["cot"]["latent_tokens"] == 0
    # the VQ-VAE's token accuracy beside the method that reads its codes, as its metrics.json has it
    vqvae = json.loads((tmp_path / "outputs" / "vqvae" / "prosqa" / "metrics.json").read_text())
    assert summary["prosqa"]["random-replace"]["vqvae_token_accuracy"] == vqvae["recon_token_acc"]
    assert "vqvae_token_accuracy" not in summary["prosqa"]["cot"]
    assert (tmp_path / "outputs" / "eval" / "accuracy_vs_tokens.png").stat().st_size > 0
    report = (tmp_path / "outputs" / "eval" / "summary.md").read_text()
    rows = [line for line in report.split("## Details")[0].splitlines() if line.startswith("|")]
    assert rows and all(row in printed for row in rows)

    assert (tmp_path / "outputs" / "logs" / "prosqa-random-replace.log").exists()

    again, printed = run_pipeline(tmp_path, capfd, workers=1)
    assert "===" not in printed  # nothing ran a second time
    assert again == results

    # what each setting makes stale, and nothing more
    assert planned(tmp_path) == {}
    # a key of one method's is no part of what the others depend on
    assert planned(tmp_path, "mode.m_choices=[0,16]") == {"prosqa/random-replace": (["fine-tune", "evaluate"], ())}
    test_copy = tmp_path / "test-copy.json"
    test_copy.write_bytes((tmp_path / "data" / "prosqa" / "test.json").read_bytes())
    evaluations = {f"prosqa/{mode}": (["evaluate"], ()) for mode in ("cot", "random-replace")}
    assert planned(tmp_path, f"data.test_file={test_copy}") == evaluations  # no fine-tune again
    assert planned(tmp_path, "task.sizes.test=4") == evaluations
    assert planned(tmp_path, "trainer.limit_train_batches=2", methods=["cot"]) == {
        "prosqa/cot": (["fine-tune", "evaluate"], ())}
    # a VQ-VAE made under other settings: only the modes that read it wait for a new one ...
    made_again = {"prosqa/vqvae": (["train VQ-VAE"], ())}
    assert planned(tmp_path, "vqvae.commitment_weight=0.3", methods=["cot"]) == {}
    assert planned(tmp_path, "trainer.limit_train_batches=2", methods=["random-replace"]) == {
        **made_again, "prosqa/random-replace": (["fine-tune", "evaluate"], ("prosqa/vqvae",))}
    # ... cot among them when its latent embeddings start from the codebook
    assert planned(tmp_path, "vqvae.commitment_weight=0.3", "model.latent_init=codebook", methods=["cot"]) == {
        **made_again, "prosqa/cot": (["fine-tune", "evaluate"], ("prosqa/vqvae",))}
    with pytest.raises(ConfigError, match="model.latent_init=codebook with mode=softcot: its frozen cot LMs"):
        planned(tmp_path, "model.latent_init=codebook", methods=["softcot"])

    # an evaluation of a test file that has changed since, or of a model that is gone, is not current
    assert evaluation_is_current(tmp_path, "cot")
    # nor one under other eval settings; but what `show` alone reads leaves it current
    assert not evaluation_is_current(tmp_path, "cot", "eval.top_k=3")
    assert evaluation_is_current(tmp_path, "cot", "eval.example=5", "eval.question=hello")
    test = tmp_path / "data" / "prosqa" / "test.json"
    test.write_bytes(test.read_bytes() + b"\n")
    assert not evaluation_is_current(tmp_path, "cot")
    test.write_bytes(test_copy.read_bytes())
    model = tmp_path / "outputs" / "finetune" / "prosqa" / "cot"
    model.rename(model.with_name("moved"))
    assert not evaluation_is_current(tmp_path, "cot") and evaluation_is_current(tmp_path, "random-replace")
    model.with_name("moved").rename(model)

    # a run on some methods adds to the report: the others' evaluations are current, so they stay in it (and a
    # folder that names no mode is passed over)
    stray = tmp_path / "outputs" / "eval" / "prosqa" / "old-mode" / "results.json"
    stray.parent.mkdir()
    stray.write_text("{}")
    run_pipeline(tmp_path, capfd, 1, "pipeline.methods=[random-replace]")
    assert json.loads((tmp_path / "outputs" / "eval" / "summary.json").read_text())["results"] == summary
    # ... unless they are not current under this run's settings
    _, printed = run_pipeline(tmp_path, capfd, 1, "pipeline.methods=[random-replace]", "eval.limit=4")
    assert "=== prosqa/random-replace: evaluate\n" in printed and "prosqa/cot" not in printed
    summary = json.loads((tmp_path / "outputs" / "eval" / "summary.json").read_text())["results"]
    assert list(summary["prosqa"]) == ["random-replace"] and summary["prosqa"]["random-replace"]["n"] == 4



BASE = ["base.use=true", "base.train.epochs=1", "base.train.batch_size=16"]


@pytest.mark.slow
def test_methods_start_from_the_task_base_model_and_wait_for_it(tmp_path, capfd):
    assert planned(tmp_path, *BASE, methods=["sol-only", "random-replace"]) == {
        "prosqa/vqvae": (["train VQ-VAE"], ()),
        "prosqa/base": (["train base model"], ()),
        "prosqa/sol-only": (["fine-tune", "evaluate"], ("prosqa/base",)),
        "prosqa/random-replace": (["fine-tune", "evaluate"], ("prosqa/vqvae", "prosqa/base")),
    }
    _, printed = run_pipeline(tmp_path, capfd, 1, *BASE, "pipeline.methods=[sol-only]")
    assert "=== prosqa: train base model\n" in printed and "=== prosqa/sol-only: fine-tune\n" in printed
    base = tmp_path / "outputs" / "base" / "finetune" / "prosqa" / "cot"
    meta = json.loads((tmp_path / "outputs" / "finetune" / "prosqa" / "sol-only" / "meta.json").read_text())
    assert meta["inputs"]["base"] == checkpoint_checksum(base)
    assert json.loads((base / "meta.json").read_text())["config"]["mode"]["name"] == "cot"
    # the base model is reused; a new one makes every method that starts from it stale
    assert planned(tmp_path, *BASE, methods=["sol-only"]) == {}
    assert planned(tmp_path, *BASE, "finetune.lr=0.003", methods=["sol-only"]) == {
        "prosqa/sol-only": (["fine-tune", "evaluate"], ())}
    assert planned(tmp_path, *BASE, "base.train.lr=0.003", methods=["sol-only"]) == {
        "prosqa/base": (["train base model"], ()), "prosqa/sol-only": (["fine-tune", "evaluate"], ("prosqa/base",))}


def test_a_fine_tune_from_a_missing_base_model_names_the_command_that_trains_it(tmp_path):
    from token_assorted import finetune

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        pipeline.prepare_task(overrides_for(tmp_path, *BASE), "prosqa")
        cfg = pipeline.stage_config(overrides_for(tmp_path, *BASE), task="prosqa", mode="cot")
    with pytest.raises(ConfigError, match=r"no base model at .*base/finetune/prosqa/cot \(base.use\): run "
                                          r"`python -m token_assorted.train_base task=prosqa"):
        finetune.run(cfg, progress=False)
