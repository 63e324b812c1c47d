"""The math track end to end on CPU: fixtures -> generate_data -> VQ-VAE on a pretrained model's own tokens ->
random-replace fine-tune (gradient checkpointing) -> evaluate on GSM8K-format test records; and LoRA.

The "pretrained" model is lm/stand_in.py's tiny randomly initialised Llama (2 layers, 32 wide) with a byte-level
BPE tokenizer, saved with save_pretrained: the same path `model.path=DIR` takes for Llama-3.2-1B, no download.
"""

import json

import pytest
import torch
from conftest import make_config

from token_assorted import evaluate, finetune, generate_data, train_vqvae
from token_assorted.data.tokenizer import tokenizer_checksum
from token_assorted.lm.adapters import checkpointing
from token_assorted.lm.stand_in import save_stand_in
from token_assorted.tasks import math_fixtures

TINY_VQVAE = [
    "vqvae.chunk_size=8", "vqvae.compression=8", "vqvae.codebook_size=16", "vqvae.dim=32", "vqvae.heads=2",
    "vqvae.prompt_layers=1", "vqvae.encoder_layers=1", "vqvae.decoder_layers=1", "vqvae.continuous_steps=2",
    "vqvae.train.max_steps=6", "vqvae.train.batch_size=8",
]
TINY_TRAINING = ["finetune.epochs=1", "finetune.batch_size=8", "finetune.lr=3e-3", "trainer.log_every_n_steps=1",
                 "eval.limit=6", "eval.batch_size=6", "task.max_new_tokens=24"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("math")
    raw = math_fixtures.write_fixtures(root / "raw", n=40, seed=0)
    texts = [line for path in raw.values() for line in path.read_text().splitlines()]
    model = save_stand_in(root / "tiny-llama", texts)
    common = [f"model.path={model}", f"data.dir={root / 'data'}", f"out_dir={root / 'out'}",
              "task.sizes.valid=6", "task.sizes.test=6", *TINY_VQVAE, *TINY_TRAINING]
    meta_task = ["task=metamathqa", f"task.params.source={raw['metamathqa']}", *common]
    gsm8k_task = ["task=gsm8k", f"task.params.source={raw['gsm8k']}", f"task.params.test_source={raw['gsm8k-test']}",
                  "task.sizes.test=-1", *common]
    return root, model, meta_task, gsm8k_task


@pytest.fixture(scope="module")
def pipeline(setup):
    root, model, meta_task, gsm8k_task = setup
    generate_data.run(make_config(*meta_task), progress=False)
    generate_data.run(make_config(*gsm8k_task), progress=False)
    vqvae_metrics = train_vqvae.run(make_config(*meta_task), progress=False)
    mixed = [*meta_task, "mode=random-replace", "mode.m_choices=[0,8,16,24]", "model.gradient_checkpointing=true"]
    finetuned = finetune.run(make_config(*mixed), progress=False)
    test_file = root / "data" / "gsm8k" / "test.json"
    results = evaluate.run(make_config(*mixed, f"data.test_file={test_file}"), progress=False)
    return {"vqvae": vqvae_metrics, "finetuned": finetuned, "results": results}


def test_vqvae_uses_the_pretrained_tokenizer(setup, pipeline):
    from transformers import AutoTokenizer

    root, model, _, _ = setup
    meta = json.loads((root / "out" / "vqvae" / "metamathqa" / "meta.json").read_text())
    own = AutoTokenizer.from_pretrained(model)
    own.pad_token = own.eos_token
    assert meta["inputs"]["tokenizer"] == tokenizer_checksum(own)
    config = json.loads((root / "out" / "vqvae" / "metamathqa" / "model" / "config.json").read_text())
    assert config["vocab_size"] == len(own)
    assert (meta["chunk_size"], meta["compression"], meta["codebook_size"]) == (8, 8, 16)
    assert 0 <= pipeline["vqvae"]["recon_token_acc"] <= 1 and pipeline["vqvae"]["steps"] == 6
    codes = json.loads((root / "out" / "vqvae" / "metamathqa" / "codes" / "train.json").read_text())["codes"]
    assert len(codes) == 28 and all(0 <= c < 16 for row in codes for c in row)


def test_finetune_and_evaluate_on_gsm8k_records(setup, pipeline):
    from transformers import AutoModelForCausalLM

    root, _, _, _ = setup
    directory = pipeline["finetuned"]
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["mode"] == "random-replace" and meta["codebook_size"] == 16 and meta["steps"] == 4  # 28 records / 8
    assert meta["config"]["model"]["gradient_checkpointing"] is True
    assert meta["trainable_parameters"] == meta["parameters"]
    model = AutoModelForCausalLM.from_pretrained(directory)
    assert model.config.use_cache and not checkpointing(model)  # saved ready for generation
    results = pipeline["results"]
    assert results["n"] == 6 and results["test_file"].endswith("gsm8k/test.json")
    assert 0 <= results["accuracy"] <= 1 and results["generated_tokens"] > 0
    assert results["latent_tokens"] + results["text_tokens"] == pytest.approx(results["generated_tokens"])
    # another test file's evaluation: a place of its own, named after the file
    rows = [json.loads(line) for line in (root / "out" / "eval-files" / "gsm8k-test" / "metamathqa" / "random-replace"
                                          / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all("predicted" in row and isinstance(row["correct"], bool) for row in rows)


def test_lora_trains_adapters_and_saves_a_plain_model(setup, pipeline):
    from transformers import AutoModelForCausalLM

    root, model, meta_task, _ = setup
    directory = finetune.run(make_config(*meta_task, "mode=cot", "model.lora.rank=4", "model.lora.alpha=8",
                                         f"out_dir={root / 'lora'}"), progress=False)
    meta = json.loads((directory / "meta.json").read_text())
    assert 0 < meta["trainable_parameters"] < meta["parameters"]
    assert not any("lora" in name for name in json.loads((directory / "config.json").read_text()))
    tuned = AutoModelForCausalLM.from_pretrained(directory).state_dict()
    base = AutoModelForCausalLM.from_pretrained(model).state_dict()
    assert not any("lora" in name for name in tuned)
    projection = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(tuned[projection], base[projection])  # the merged adapters changed the layer
    assert torch.equal(tuned["model.layers.0.input_layernorm.weight"], base["model.layers.0.input_layernorm.weight"])
    assert tuned["model.embed_tokens.weight"].shape[0] == base["model.embed_tokens.weight"].shape[0] + 18


def test_gradient_checkpointing_gives_the_same_gradients_and_bf16_loads(setup):
    from token_assorted.lm.model import build_model
    from token_assorted.lm.adapters import prepare_for_training

    _, model_path, _, _ = setup
    ids = torch.tensor([[0, 5, 9, 17, 33, 2]])
    gradients = []
    for enabled in (False, True):
        cfg = make_config(f"model.path={model_path}", f"model.gradient_checkpointing={str(enabled).lower()}")
        model = prepare_for_training(build_model(cfg.model, None), cfg.model)
        assert checkpointing(model) is enabled and model.config.use_cache is not enabled
        model(input_ids=ids, labels=ids).loss.backward()
        gradients.append(model.get_input_embeddings().weight.grad)
    assert torch.allclose(*gradients, atol=1e-6)
    bf16 = build_model(make_config(f"model.path={model_path}", "model.dtype=bfloat16").model, None)
    assert bf16.dtype == torch.bfloat16 and bf16.training


def test_evaluation_loads_the_weights_in_model_dtype_as_fine_tuning_did(setup):
    from token_assorted.evaluation.checkpoint import load_checkpoint

    _, model_path, _, _ = setup
    for dtype in ("float32", "bfloat16"):
        cfg = make_config(f"model.path={model_path}", f"model.dtype={dtype}", f"eval.checkpoint={model_path}")
        assert load_checkpoint(cfg).model.dtype == getattr(torch, dtype)
