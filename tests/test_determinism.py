"""The same config and seed, run twice into two directories: byte-identical data, identical VQ-VAE codes and
identical CPU metrics (timings and the run's own paths aside)."""

import json

import pytest
from hydra import compose, initialize_config_dir

from token_assorted import pipeline

from conftest import ROOT

TINY = [
    "base.use=false",  # from model.*, not from a base model (tests that want one set base.use=true)
    "task.sizes.train=48", "task.sizes.valid=4", "task.sizes.test=4", "task.max_new_tokens=24",
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "vqvae.dim=32", "vqvae.heads=2", "vqvae.prompt_layers=1", "vqvae.encoder_layers=1", "vqvae.decoder_layers=1",
    "vqvae.codebook_size=16", "vqvae.train.batch_size=8", "vqvae.train.max_steps=12", "vqvae.continuous_steps=3",
    "finetune.epochs=1", "finetune.batch_size=8",
    "pipeline.tasks=[prosqa]", "pipeline.methods=[random-replace]",
]
DIFFERENT_BY_NATURE = ("checkpoint", "test_file", "config")  # paths of the run itself


def run_pipeline(root):
    overrides = [*TINY, f"data.dir={root / 'data'}", f"out_dir={root / 'outputs'}"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        return pipeline.run(compose(config_name="config", overrides=overrides), overrides=overrides)


def untimed(metrics: dict) -> dict:
    return {
        key: value for key, value in metrics.items()
        if "second" not in key and not key.endswith("per_s") and key not in DIFFERENT_BY_NATURE
    }


@pytest.mark.slow
def test_same_config_and_seed_give_identical_outputs(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    results = [run_pipeline(first), run_pipeline(second)]

    data = sorted(p.relative_to(first) for p in (first / "data" / "prosqa").glob("*.json"))
    assert [p.name for p in data] == ["meta.json", "test.json", "train.json", "valid.json"]
    for path in data:
        assert (first / path).read_bytes() == (second / path).read_bytes(), path

    vqvae = [root / "outputs" / "vqvae" / "prosqa" for root in (first, second)]
    for split in ("train", "valid", "test"):
        first_codes, second_codes = (d / "codes" / f"{split}.json" for d in vqvae)
        assert first_codes.read_bytes() == second_codes.read_bytes()
    metrics = [json.loads((d / "metrics.json").read_text()) for d in vqvae]
    assert untimed(metrics[0]) == untimed(metrics[1]) and metrics[0]["steps"] == 12

    finetuned = [root / "outputs" / "finetune" / "prosqa" / "random-replace" for root in (first, second)]
    assert (finetuned[0] / "model.safetensors").read_bytes() == (finetuned[1] / "model.safetensors").read_bytes()
    trained = [json.loads((d / "meta.json").read_text()) for d in finetuned]
    assert trained[0]["final_metrics"] == trained[1]["final_metrics"]
    assert trained[0]["tokens_seen"] == trained[1]["tokens_seen"] > 0

    evaluated = [r["prosqa"]["random-replace"] for r in results]
    assert untimed(evaluated[0]) == untimed(evaluated[1]) and evaluated[0]["n"] == 4
    predictions = [
        (root / "outputs" / "eval" / "prosqa" / "random-replace" / "predictions.jsonl").read_bytes()
        for root in (first, second)
    ]
    assert predictions[0] == predictions[1]
