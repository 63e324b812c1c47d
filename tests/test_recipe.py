"""The recipe for models trained from scratch: mimetic attention init, the base model's config, learning curves."""

import csv
import random

import pytest
import torch

from token_assorted.data.format import sequence_text
from token_assorted.data.tokenizer import build_word_tokenizer
from token_assorted.errors import ConfigError
from token_assorted.lm.base import base_config, base_dir, starting_config
from token_assorted.lm.model import build_model
from token_assorted.tasks import prontoqa

from conftest import make_config

WIDTH = 64


@pytest.fixture(scope="module")
def tokenizer():
    records = [prontoqa.sample(random.Random(i), prontoqa.Params(hops=2)) for i in range(50)]
    return build_word_tokenizer(sequence_text(r) for r in records)


def model_cfg(*overrides):
    size = [f"model.hidden_size={WIDTH}", "model.num_layers=2", "model.num_heads=4", "model.intermediate_size=128"]
    return make_config(*size, *overrides).model


def products(layer):
    """W_q^T W_k and W_v^T W_o^T of one attention layer (hidden x hidden)."""
    attention = layer.self_attn
    with torch.no_grad():
        return (attention.q_proj.weight.T @ attention.k_proj.weight,
                attention.v_proj.weight.T @ attention.o_proj.weight.T)


def test_mimetic_init_makes_tokens_attend_to_their_like(tokenizer):
    torch.manual_seed(0)
    model = build_model(model_cfg("model.mimetic_init=0.3"), tokenizer)
    for layer in model.model.layers:
        qk, vo = products(layer)
        off_diagonal = ~torch.eye(WIDTH, dtype=torch.bool)
        # s (I + Z): the diagonal at s, the rest around 0; the value-output product at -s on its diagonal
        assert qk.diagonal().mean() == pytest.approx(0.3, abs=0.05) and qk[off_diagonal].mean().abs() < 0.01
        assert vo.diagonal().mean() == pytest.approx(-0.3, abs=0.05) and vo[off_diagonal].mean().abs() < 0.01
    torch.manual_seed(0)
    plain = build_model(model_cfg("model.mimetic_init=0"), tokenizer)
    assert products(plain.model.layers[0])[0].diagonal().mean().abs() < 0.01  # transformers' own: no such pattern


def test_mimetic_init_is_deterministic_and_saves_as_a_plain_model(tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    def built():
        torch.manual_seed(3)
        return build_model(model_cfg("model.mimetic_init=0.3"), tokenizer)

    model = built()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), built().state_dict().values()))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)  # stock transformers, no code of ours
    prompt = tokenizer("Fae is a wumpus.\n", return_tensors="pt")
    out = loaded.generate(**prompt, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] == prompt["input_ids"].shape[1] + 5
    assert torch.equal(loaded.model.layers[1].self_attn.q_proj.weight, model.model.layers[1].self_attn.q_proj.weight)


def test_the_qk_norm_architecture_is_a_stock_qwen3_model_that_reloads_and_generates(tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM, Qwen3ForCausalLM

    torch.manual_seed(0)
    model = build_model(model_cfg("model.arch=qwen3", "model.mimetic_init=0.3"), tokenizer)
    attention = model.model.layers[0].self_attn
    assert isinstance(model, Qwen3ForCausalLM) and attention.q_norm.weight.shape == (WIDTH // 4,)  # per head
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    prompt = tokenizer("Fae is a wumpus.\n", return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(**prompt).logits, model.eval()(**prompt).logits)
    out = loaded.generate(**prompt, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] == prompt["input_ids"].shape[1] + 5


def test_mimetic_init_refuses_attention_without_separate_projections(tokenizer):
    with pytest.raises(ConfigError, match="mimetic_init"):
        build_model(model_cfg("model.arch=gpt2", "model.mimetic_init=0.3"), tokenizer)


def test_factor_pair_reproduces_the_product():
    from token_assorted.lm.init import factor_pair

    product = torch.randn(8, 8)
    a, b = factor_pair(product, 8)
    assert torch.allclose(a.T @ b, product, atol=1e-5)
    a, b = factor_pair(product, 3)  # the best rank-3 approximation, as narrower heads allow
    assert a.shape == b.shape == (3, 8) and torch.linalg.matrix_rank(a.T @ b) == 3


def test_the_base_model_is_the_cot_model_of_its_own_out_dir():
    cfg = make_config("task=prontoqa", "mode=random-replace", "base.use=true", "base.train.max_steps=77",
                      "finetune.max_steps=5", "out_dir=/tmp/runs")
    base = base_config(cfg)
    assert base.mode.name == "cot" and base.finetune.max_steps == 77 and not base.base.use
    assert str(base_dir(cfg)) == "/tmp/runs/base/finetune/prontoqa/cot"
    assert cfg.mode.name == "random-replace" and cfg.finetune.max_steps == 5  # the method's own config untouched
    with pytest.raises(ConfigError, match=r"no base model at /tmp/runs/base/finetune/prontoqa/cot \(base.use\)"):
        starting_config(cfg)
    assert starting_config(make_config("task=prontoqa", "base.use=false")).model.path is None


def test_a_learning_curve_is_written_every_n_steps(tmp_path):
    from token_assorted import finetune, generate_data
    from token_assorted.evaluation.curve import CURVE, plot_curves, read_curve

    run = ["task=prontoqa", "mode=cot", f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path / 'out'}",
           "task.params.hops=1", "task.sizes.train=64", "task.sizes.valid=8", "task.sizes.test=8",
           "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
           "finetune.max_steps=5", "finetune.batch_size=8", "base.use=false", "curve.every=2", "curve.records=4",
           "task.max_new_tokens=8"]
    generate_data.run(make_config(*run), progress=False)
    directory = finetune.run(make_config(*run), progress=False)
    with open(directory / CURVE) as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == [2, 4, 5]  # every 2 steps, and the last
    assert [int(row["samples"]) for row in rows] == [16, 32, 40]
    assert all(0 <= float(row["accuracy"]) <= 1 for row in rows)
    plot_curves({"tiny": read_curve(directory / CURVE)}, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    # a run under other settings starts its curve afresh, even where the last one left its rows behind
    (directory.parent / f"{directory.name}.partial").mkdir()
    (directory.parent / f"{directory.name}.partial" / CURVE).write_text(open(directory / CURVE).read())
    again = finetune.run(make_config(*run, "finetune.lr=2e-3"), progress=False)
    assert [row["step"] for row in read_curve(again / CURVE)] == [2, 4, 5]


def test_the_curve_chooses_codes_as_evaluate_does(tmp_path, monkeypatch):
    # eval.code_choice=pooled scores a model otherwise than the default; its curve must score it the same way
    from types import SimpleNamespace

    from token_assorted.evaluation import accuracy_curve
    from token_assorted.evaluation.curve import read_curve

    seen = {}

    def scored(model, tokenizer, task, records, **options):
        seen.update(options)
        return {"accuracy": 0.5, "generated_tokens": 3.0}, []

    monkeypatch.setattr(accuracy_curve, "evaluate_records", scored)
    curve = accuracy_curve.AccuracyCurve(2, [{}], None, "prontoqa", max_new_tokens=8, batch_size=4,
                                         code_choice="pooled", samples_per_step=16, path=tmp_path / "curve.csv")
    curve.evaluate(SimpleNamespace(is_global_zero=True), torch.nn.Linear(1, 1), step=4)
    assert seen["code_choice"] == "pooled" and seen["draw_samples"] is False
    assert [(row["step"], row["samples"], row["accuracy"]) for row in read_curve(tmp_path / "curve.csv")] == [
        (4, 64, 0.5)]


def test_a_negative_mimetic_scale_is_refused():
    from token_assorted.config import check_settings

    with pytest.raises(ConfigError, match="model.mimetic_init is -0.1"):
        check_settings(make_config("model.mimetic_init=-0.1"))


def test_plotting_a_curve_that_is_not_there_is_one_clear_error(tmp_path, capsys):
    from token_assorted.evaluation.curve import main

    with pytest.raises(SystemExit) as exit_:
        main([f"run={tmp_path}", "--out", str(tmp_path / "curves.png")])
    assert exit_.value.code == 2 and f"no curve.csv at {tmp_path}/curve.csv" in capsys.readouterr().err
    assert not (tmp_path / "curves.png").exists()


def test_the_paper_preset_fine_tunes_the_pretrained_model_model_path_names(tmp_path):
    from transformers import AutoModelForCausalLM

    from token_assorted import finetune, generate_data
    from token_assorted.lm.stand_in import save_stand_in

    paper = make_config("task=prontoqa", "preset=paper")
    assert (paper.model.path, paper.finetune.epochs, paper.finetune.batch_size, paper.finetune.lr) == ("gpt2", 50, 128, 1e-4)
    assert paper.task.params.hops == 5 and not paper.base.use  # Coconut's ProntoQA, no base model of our own
    records = [prontoqa.sample(random.Random(i), prontoqa.Params()) for i in range(40)]
    stand_in = save_stand_in(tmp_path / "pretrained", [sequence_text(r) for r in records])  # GPT-2's place
    run = ["task=prontoqa", "preset=paper", "mode=cot", f"model.path={stand_in}", f"data.dir={tmp_path / 'data'}",
           f"out_dir={tmp_path / 'out'}", "task.sizes.train=16", "task.sizes.valid=4", "task.sizes.test=4",
           "finetune.epochs=1", "finetune.batch_size=8"]
    generate_data.run(make_config(*run), progress=False)
    directory = finetune.run(make_config(*run), progress=False)
    tuned, start = (AutoModelForCausalLM.from_pretrained(d) for d in (directory, stand_in))
    assert tuned.config.hidden_size == start.config.hidden_size == 32  # the stand-in's weights, fine-tuned
    assert not torch.equal(tuned.model.layers[0].mlp.up_proj.weight, start.model.layers[0].mlp.up_proj.weight)


def test_a_hub_name_that_is_neither_cached_nor_reachable_stops_at_once(monkeypatch):
    import huggingface_hub

    from token_assorted.config import check_model_path

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *args, **kwargs: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"model.path 'gpt2' is no folder here and the hub cannot be reached .*"
                                          r"huggingface-cli download gpt2 --local-dir DIR"):
        check_model_path("gpt2", "tokenizer_config.json")
