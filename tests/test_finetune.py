"""End-to-end fine-tuning of a tiny model on 40 ProsQA records, and loading the result with stock transformers."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import make_config, method, write_reference_splits

from token_assorted import config, finetune
from token_assorted.lm import setup as lm_setup
from token_assorted.data.tokenizer import build_word_tokenizer
from token_assorted.errors import ConfigError, DataError, DivergedError
from token_assorted.io import write_meta
from token_assorted.records import load_records

TINY = [
    "task=prosqa",
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "finetune.epochs=2", "finetune.batch_size=8", "finetune.lr=3e-3",
    "trainer.log_every_n_steps=1",
    "vqvae.codebook_size=8",
]
CHUNK, COMPRESSION, CODEBOOK = 8, 4, 8  # the hand-made VQ-VAE: 2 codes per chunk of 8 tokens



@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, reference_dir):
    """40 train and 10 valid ProsQA records in the layout generate_data writes."""
    return write_reference_splits(tmp_path_factory.mktemp("data"), 40, 10, 10)


def hand_made_codes(cfg):
    """Codes a VQ-VAE could have made: each chunk's codes are a function of its tokens, so they are learnable."""
    from token_assorted.data import get_tokenizer, load_dataset

    tokenizer = get_tokenizer(cfg, progress=False)
    per_chunk = CHUNK // COMPRESSION
    splits = {}
    for split in lm_setup.SPLITS:
        splits[split] = []
        for trace in load_dataset(cfg, split, tokenizer)["reasoning_ids"]:
            chunks = [trace[i : i + CHUNK] for i in range(0, len(trace), CHUNK)]
            splits[split].append([(sum(c) * (slot + 1)) % CODEBOOK for c in chunks for slot in range(per_chunk)])
    codebook = torch.randn(CODEBOOK, 4, generator=torch.Generator().manual_seed(0))
    return lm_setup.LatentCodes(CHUNK, COMPRESSION, per_chunk, CODEBOOK, codebook, splits)


def no_vqvae(cfg):
    raise AssertionError("this mode must not need a VQ-VAE")


def train(monkeypatch, data_dir, out, *overrides, codes=no_vqvae):
    monkeypatch.setattr(lm_setup, "load_latent_codes", codes)
    cfg = make_config(*TINY, f"data.dir={data_dir}", f"out_dir={out}", *overrides)
    return finetune.run(cfg, progress=False)


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory):
    """A cot and a random-replace fine-tune, shared by the tests below."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        out = tmp_path_factory.mktemp("out")
        cot = train(monkeypatch, data_dir, out, "mode=cot")
        mixed = train(monkeypatch, data_dir, out, "mode=random-replace", codes=hand_made_codes)
    return {"cot": cot, "random-replace": mixed}


def test_outputs_and_meta(runs):
    for mode, directory in runs.items():
        assert directory.name == mode and directory.parent.name == "prosqa"
        assert not directory.with_name(mode + ".partial").exists()
        for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "train_log.csv"):
            assert (directory / name).is_file(), name
        assert list((directory / "checkpoints").glob("*.ckpt"))
        meta = json.loads((directory / "meta.json").read_text())
        assert meta["mode"] == mode and meta["seed"] == 0 and meta["config"]["mode"]["name"] == mode
        assert meta["steps"] == 10 and meta["parameters"] > 0 and meta["tokens_seen"] > 0
        assert set(meta["inputs"]) >= {"train", "tokenizer"}
        log = (directory / "train_log.csv").read_text().splitlines()
        assert {"epoch", "step", "train_loss", "val_loss", "lr"} <= set(log[0].split(",")) and len(log) > 10
        with open(directory / "train_log.csv", newline="") as log:
            validated = [row for row in csv.DictReader(log) if row["val_loss"]]
        # once at each epoch's end: training ended at one, so the final weights were validated there
        assert [int(row["step"]) for row in validated] == [4, 9]
        assert meta["final_metrics"]["val_loss"] == pytest.approx(float(validated[-1]["val_loss"]))
    cot = json.loads((runs["cot"] / "meta.json").read_text())
    mixed = json.loads((runs["random-replace"] / "meta.json").read_text())
    configured = cot["config"]["vqvae"]  # cot trains without a VQ-VAE: the latent shape comes from cfg.vqvae
    assert (cot["chunk_size"], cot["compression"], cot["codebook_size"]) == (
        configured["chunk_size"], configured["compression"], configured["codebook_size"]
    )
    assert (mixed["chunk_size"], mixed["compression"], mixed["codebook_size"]) == (CHUNK, COMPRESSION, CODEBOOK)
    assert "vqvae" in mixed["inputs"] and "vqvae" not in cot["inputs"]  # None: hand-made codes, no VQ-VAE folder
    assert mixed["tokens_seen"] < cot["tokens_seen"]  # latents are shorter than the text they replace


def test_random_replace_trained_the_latent_embeddings_it_used(runs):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(runs["random-replace"])
    meta = json.loads((runs["random-replace"] / "meta.json").read_text())
    first = meta["latent_ids"]["first_code"]
    rows = model.get_input_embeddings().weight.detach()[first : first + CODEBOOK]
    # all rows started equal (mean init); codes that appeared in training moved apart
    assert torch.cdist(rows, rows).max() > 1e-3


GENERATE = r"""
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer
out = {}
for directory in sys.argv[1:]:
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory)
    vocab = tokenizer.get_vocab()
    latents = [f"<latent_{k}>" for k in range(8)] + ["<boLatent>", "<eoLatent>"]
    prompt = tokenizer("Every wumpus is a yumpus. Tom is a wumpus. Is Tom a yumpus or impus?\n", return_tensors="pt")
    ids = model.generate(**prompt, max_new_tokens=12)
    new = ids[0, prompt["input_ids"].shape[1]:].tolist()
    out[directory] = {
        "latents_in_vocab": all(t in vocab for t in latents),
        "latents_single": [tokenizer.encode(t, add_special_tokens=False) for t in latents],
        "latent_ids": [vocab.get(t) for t in latents],
        "generated": len(new), "text": tokenizer.decode(new, skip_special_tokens=False),
        "vocab_size": model.config.vocab_size, "tokenizer_size": len(tokenizer),
        "imported_token_assorted": any(m.startswith("token_assorted") for m in sys.modules),
    }
print(json.dumps(out))
"""


def test_stock_transformers_loads_and_generates_without_this_package(runs, tmp_path):
    directories = [str(d) for d in runs.values()]
    done = subprocess.run(
        [sys.executable, "-c", GENERATE, *directories], capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for directory in directories:
        result = results[directory]
        assert not result["imported_token_assorted"]
        assert result["latents_in_vocab"]
        assert result["latents_single"] == [[i] for i in result["latent_ids"]]
        assert 1 <= result["generated"] <= 12 and isinstance(result["text"], str) and result["text"]
        assert result["vocab_size"] == result["tokenizer_size"]


def test_same_seed_same_loss(runs, data_dir, tmp_path, monkeypatch):
    again = train(monkeypatch, data_dir, tmp_path, "mode=cot")
    first = json.loads((runs["cot"] / "meta.json").read_text())["final_metrics"]
    second = json.loads((again / "meta.json").read_text())["final_metrics"]
    assert first == second
    other = train(monkeypatch, data_dir, tmp_path, "mode=cot", "seed=1")
    assert json.loads((other / "meta.json").read_text())["final_metrics"] != first


def test_sol_only_and_a_local_pretrained_model(data_dir, tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    from token_assorted.attention import LM_ATTENTION
    from token_assorted.errors import ConfigError
    from token_assorted.lm.model import build_model, max_positions, planned_config

    records = load_records(data_dir / "prosqa" / "train.json") + load_records(data_dir / "prosqa" / "valid.json")
    from token_assorted.data.format import sequence_text

    tokenizer = build_word_tokenizer(sequence_text(r) for r in records)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    pretrained = tmp_path / "pretrained"
    AutoModelForCausalLM.from_config(config).save_pretrained(pretrained)
    tokenizer.save_pretrained(pretrained)
    # its position limit, read from its config alone (make bench sizes its batches so, before building a model)
    cfg = make_config(f"model.path={pretrained}", "model.max_positions=1024")
    assert max_positions(planned_config(cfg.model, tokenizer), cfg.model) == 512
    # it trains with the attention a model built here has, unless model.attention names one
    assert build_model(cfg.model, tokenizer).config._attn_implementation == LM_ATTENTION
    eager = make_config(f"model.path={pretrained}", "model.attention=eager")
    assert build_model(eager.model, tokenizer).config._attn_implementation == "eager"
    with pytest.raises(ConfigError, match="cannot load a causal LM from model.path"):
        planned_config(make_config(f"model.path={tmp_path / 'missing'}").model, tokenizer)

    directory = train(monkeypatch, data_dir, tmp_path / "out", "mode=sol-only", f"model.path={pretrained}")
    model = AutoModelForCausalLM.from_pretrained(directory)
    saved = AutoTokenizer.from_pretrained(directory)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 32  # the local model, not model=tiny
    assert len(saved) == len(tokenizer) + 8 + 2 == model.config.vocab_size
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["mode"] == "sol-only" and meta["tokens_seen"] > 0


def test_too_long_sequences_are_refused(data_dir, tmp_path, monkeypatch):
    with pytest.raises(DataError, match="record 0.*limit of 64"):
        train(monkeypatch, data_dir, tmp_path, "mode=cot", "model.max_positions=64")
    assert not (tmp_path / "finetune" / "prosqa" / "cot").exists()


def test_a_diverging_run_stops_at_once_and_saves_no_model(data_dir, tmp_path, monkeypatch):
    with pytest.raises(DivergedError, match=r"diverged.* at step [1-9] .*finetune.lr=1e\+30"):
        train(monkeypatch, data_dir, tmp_path, "mode=cot", "finetune.lr=1e30")
    directory = tmp_path / "finetune" / "prosqa" / "cot"
    assert not (directory / "meta.json").exists() and not (directory / "model.safetensors").exists()


def test_curriculum_stage_advances_and_is_kept_in_the_checkpoint_with_codebook_init(data_dir, tmp_path, monkeypatch):
    directory = train(monkeypatch, data_dir, tmp_path, "mode=curriculum-replace", "mode.stage_caps=[0,8]",
                      "model.latent_init=codebook", codes=hand_made_codes)
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["curriculum_stage"] == 1
    log = (directory / "train_log.csv").read_text().splitlines()
    stage = log[0].split(",").index("stage")
    assert sorted({float(row.split(",")[stage]) for row in log[1:] if row.split(",")[stage]}) == [0.0, 1.0]
    checkpoint = torch.load(next((directory / "checkpoints").glob("*.ckpt")), weights_only=False)
    assert any(state == {"stage": 1} for state in checkpoint["callbacks"].values())


def test_under_a_step_budget_the_curriculum_follows_the_steps(data_dir, tmp_path, monkeypatch):
    # 40 records in batches of 8: 5 steps an epoch, so 7 steps end training in the middle of the second
    directory = train(monkeypatch, data_dir, tmp_path, "mode=curriculum-replace", "mode.stage_caps=[0,8]",
                      "finetune.epochs=4", "finetune.max_steps=7", codes=hand_made_codes)
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["steps"] == 7
    assert meta["curriculum_stage"] == 1  # stage 1 of 2 from the third of the 4 "epochs" the budget stands for
    # validated at the first epoch's end and again on the final weights, which val_loss in meta.json is about
    with open(directory / "train_log.csv", newline="") as log:
        validated = [row for row in csv.DictReader(log) if row["val_loss"]]
    assert [int(row["step"]) for row in validated] == [4, 7]
    assert meta["final_metrics"]["val_loss"] == pytest.approx(float(validated[-1]["val_loss"]))


def test_a_new_stage_resets_the_optimizer_where_the_mode_asks():
    from types import SimpleNamespace

    from token_assorted.lm.batches import EpochDraws

    def run_epochs(reset: bool, resumed_stage: int | None = None) -> list[int]:
        weight = torch.nn.Parameter(torch.ones(3))
        optimizer = torch.optim.AdamW([weight])
        trainer = SimpleNamespace(current_epoch=0, global_step=0, estimated_stepping_batches=8, optimizers=[optimizer])
        collator = SimpleNamespace(epoch=0, stage=0)
        curriculum = method("curriculum-replace", stage_caps=[0, 8], reset_optimizer=reset)
        draws = EpochDraws(curriculum, 2, collator, SimpleNamespace(stage=0))
        states = []
        if resumed_stage is not None:  # a run resumed in its second epoch: stage and moments from the checkpoint
            draws.load_state_dict({"stage": resumed_stage})
            trainer.current_epoch = 1
            weight.sum().backward()
            optimizer.step()
        draws.on_train_start(trainer, None)
        for epoch in range(trainer.current_epoch, 2):
            trainer.current_epoch = epoch
            draws.on_train_epoch_start(trainer, None)
            states.append(len(optimizer.state))
            weight.sum().backward()
            optimizer.step()  # the epoch's updates leave moments behind
        return states

    assert run_epochs(reset=True) == [0, 0]  # stage 1 begins with no moments
    assert run_epochs(reset=False) == [0, 1]
    assert run_epochs(reset=True, resumed_stage=1) == [1]  # the checkpoint's stage: nothing new, nothing reset


def test_draws_follow_the_pass_over_the_data_and_the_stage_follows_the_schedule():
    # the sampler groups each pass's samples by the lengths that pass's draws give them
    from types import SimpleNamespace

    from token_assorted.lm.batches import EpochDraws

    train, valid = SimpleNamespace(epoch=0, stage=0), SimpleNamespace(epoch=0, stage=0)
    draws = EpochDraws(method("curriculum-replace", stage_caps=[0, 8]), 4, train, valid)
    trainer = SimpleNamespace(current_epoch=0, global_step=0, estimated_stepping_batches=40, optimizers=[])
    draws.on_train_epoch_start(trainer, None)
    trainer.global_step = 25  # a step budget of 40 standing for 4 epochs, still in the first pass over the data
    draws.on_train_batch_start(trainer, None, None, 25)
    assert (train.epoch, train.stage, valid.stage, valid.epoch) == (0, 1, 1, 0)
    trainer.current_epoch = 1
    draws.on_train_epoch_start(trainer, None)
    assert (train.epoch, train.stage) == (1, 1)


def test_collator_pads_right_masks_padding_and_redraws_each_epoch():
    from token_assorted.latent import LatentLayout, LatentVocab
    from token_assorted.lm.batches import MixingCollator

    vocab = LatentVocab(first_code_id=50, codebook_size=4, begin_id=60, end_id=61)
    rows = [
        {"index": i, "prompt_ids": [5, 6], "reasoning_ids": list(range(10, 14 + 4 * (i % 3))), "solution_ids": [7, 2]}
        for i in range(12)
    ]
    codes = [[c % 4 for c in range(len(r["reasoning_ids"]) // 4)] for r in rows]
    collate = MixingCollator(method("random-replace"), LatentLayout(vocab, 4, 1), codes, pad_id=0, max_length=64,
                             seed=0)
    batch = collate(rows)
    lengths = batch["attention_mask"].sum(1)
    assert batch["input_ids"].shape[1] == int(lengths.max())
    for row, n in enumerate(lengths.tolist()):
        assert batch["attention_mask"][row, :n].all() and not batch["attention_mask"][row, n:].any()
        assert (batch["input_ids"][row, n:] == 0).all() and (batch["labels"][row, n:] == -100).all()
        assert (batch["labels"][row, :2] == -100).all()
        assert torch.equal(batch["labels"][row, 2:n], batch["input_ids"][row, 2:n])
    assert torch.equal(collate(rows)["input_ids"], batch["input_ids"])  # same epoch, same draws
    collate.epoch = 1
    assert not torch.equal(collate(rows)["attention_mask"].sum(1), lengths)  # a new epoch draws anew
    collate.max_length = 5
    with pytest.raises(DataError, match="record 0"):
        collate(rows)


def test_model_attention_is_chosen_by_config_and_a_bad_name_is_a_config_error(data_dir):
    from token_assorted.attention import LM_ATTENTION
    from token_assorted.data import get_tokenizer
    from token_assorted.errors import ConfigError
    from token_assorted.lm.model import build_model

    cfg = make_config(*TINY, f"data.dir={data_dir}")
    tokenizer = get_tokenizer(cfg, progress=False)
    # by default transformers' sdpa, lifted to float32 under a CPU's bf16 autocast (tests/test_attention.py)
    assert cfg.model.attention is None
    assert build_model(cfg.model, tokenizer).config._attn_implementation == LM_ATTENTION
    eager = make_config(*TINY, f"data.dir={data_dir}", "model.attention=eager")
    assert build_model(eager.model, tokenizer).config._attn_implementation == "eager"
    with pytest.raises(ConfigError, match="model.attention 'flashy'"):
        build_model(make_config(*TINY, f"data.dir={data_dir}", "model.attention=flashy").model, tokenizer)


def test_a_model_made_under_other_settings_is_replaced_with_a_note(tmp_path, capsys):
    from omegaconf import OmegaConf

    made = make_config("mode=fixed", "mode.m=8")
    write_meta(tmp_path, config=OmegaConf.to_container(made, resolve=True), seed=0, identity=finetune.identity(made))
    finetune.note_replacing(tmp_path, make_config("mode=fixed", "mode.m=8"))
    assert capsys.readouterr().out == ""
    finetune.note_replacing(tmp_path, make_config("mode=fixed", "finetune.lr=1e-3"))
    assert capsys.readouterr().out == (f"note: replacing {tmp_path}, fine-tuned under other settings (finetune.lr=0.002 "
                                       "(now 0.001), mode.m=8 (now 16)); out_dir=DIR keeps runs apart\n")


def test_a_curriculum_that_ends_before_its_last_stage_says_so(capsys):
    curriculum = method("curriculum-replace", stage_caps=[0, 16, 32])
    finetune.note_unreached_stages(curriculum, epochs=3)  # a stage an epoch: all three
    finetune.note_unreached_stages(method("icot"), epochs=1)  # its stages are the epochs
    assert capsys.readouterr().out == ""
    finetune.note_unreached_stages(curriculum, epochs=1)  # preset=quick: cot in all but name
    assert capsys.readouterr().out.startswith("note: curriculum-replace ends in stage 0 of stages 0-2 with "
                                              "finetune.epochs=1: the later stages need more epochs")


@pytest.mark.parametrize("task", ["prontoqa", "prosqa", "maze"])
def test_gpu_preset_trains_the_mini_model_on_its_own_larger_splits(task):
    cfg = make_config("preset=gpu", f"task={task}")
    default = make_config(f"task={task}")
    assert cfg.model.name == "mini" and (cfg.model.hidden_size, cfg.model.num_layers) == (256, 6)
    assert cfg.task.sizes.train == (60_000 if task == "maze" else 200_000)  # the maze has ~71,600 layouts
    assert cfg.task.sizes.test == default.task.sizes.test
    # its splits and models live apart, so the default preset's are never regenerated or overwritten
    assert cfg.data.dir != default.data.dir and cfg.out_dir != default.out_dir
    # several times the samples of the default preset's whole training: its base model (the tests' make_config
    # switches base.use off) and a fine-tune (ProsQA's 192,000 and 96,000: the gpu preset's 1.02 M are 3.6 times as
    # many)
    base = default.base.train.max_steps * default.base.train.batch_size
    default_samples = base + default.finetune.max_steps * default.finetune.batch_size
    assert cfg.finetune.max_steps * cfg.finetune.batch_size >= 3 * default_samples


@pytest.mark.parametrize("preset", ["gpu", "paper"])
def test_presets_train_on_plain_shuffled_batches_but_the_cpu_maze_on_grouped_ones(preset):
    # grouping by length spares the CPU its padding and costs val_loss (docs/measurements.md, "Hot paths"); the GPU
    # figures were measured on plain batches; under a training mix grouped batches would each hold one difficulty
    assert make_config(f"preset={preset}").finetune.length_window == 1
    for task in ("prontoqa", "prosqa"):
        assert make_config(f"task={task}").finetune.length_window == make_config().base.train.length_window == 1
    assert make_config("task=maze").finetune.length_window == 50


def test_a_preset_sets_a_methods_own_keys_for_one_task_and_method_alone():
    # the default preset's draws of m for ProsQA's and the maze's random-replace (conf/preset_mode/): no other task
    # or method has them
    assert list(make_config("task=prosqa", "mode=random-replace").mode.m_choices) == [0, 8, 16, 1000, 1000, 1000]
    assert list(make_config("task=maze", "mode=random-replace").mode.m_choices) == [0, 1000, 1000, 1000]
    assert make_config("task=prontoqa", "mode=random-replace").mode.m_choices is None
    assert make_config("preset=quick", "task=prosqa", "mode=random-replace").mode.m_choices is None
    assert make_config("preset=quick", "task=maze", "mode=random-replace").mode.m_choices is None
    assert make_config("task=prosqa", "mode=cot").mode.name == "cot"  # a method without the key composes
    assert list(make_config("task=prosqa", "mode=random-replace", "mode.m_choices=[0,8]").mode.m_choices) == [0, 8]


def test_the_gpu_preset_trains_its_vqvae_on_the_step_budget_its_figures_were_measured_with():
    # a preset replaces the default one: without its own budget the VQ-VAE would run 4 epochs, 25,000 steps
    assert make_config("preset=gpu").vqvae.train.max_steps == make_config().vqvae.train.max_steps == 800


class RowsCollator:
    """A batch is its rows; a sample as long as its record."""

    def __call__(self, rows: list[dict]) -> list[dict]:
        return rows

    def sample_length(self, row: dict, epoch: int, stage: int) -> int:
        return len(row["prompt_ids"]) + len(row["reasoning_ids"]) + len(row["solution_ids"])


@pytest.mark.parametrize("mode, allowed", [("cot", True), ("sol-only", True), ("random-replace", False),
                                           ("curriculum-replace", False)])
def test_loader_workers_only_where_the_samples_never_change(mode, allowed):
    # a worker process collates with its own copy of the collator, blind to the draws and stages that move on here
    from token_assorted.errors import ConfigError

    cfg = make_config(f"mode={mode}", "trainer.num_workers=1", "finetune.batch_size=2")
    row = {"prompt_ids": [1], "reasoning_ids": [2], "solution_ids": [3]}
    data = {"train": [{"index": i, **row} for i in range(4)], "valid": [{"index": 0, **row}]}
    collators = {"train": RowsCollator(), "valid": RowsCollator()}
    if allowed:
        finetune.check_loader_workers(cfg, method(mode))
        loaders, _ = finetune.make_loaders(data, collators, cfg, method(mode), world_size=1)
        assert loaders[0].num_workers == 1
    else:
        with pytest.raises(ConfigError, match=rf"trainer.num_workers=1: mode {mode} draws"):
            finetune.check_loader_workers(cfg, method(mode))


def test_training_batches_hold_samples_of_similar_length_as_drawn():
    from token_assorted.latent import LatentLayout, LatentVocab
    from token_assorted.lm.batches import MixingCollator

    # padding is computed like any token: maze cot batches were 35 % padding before grouping, 1.3 % after; grouped by
    # the whole record's length, random-replace's were still 32 %, since the draw shortens some traces and not others
    gen = torch.Generator().manual_seed(0)
    prompts, traces = torch.randint(10, 60, (640,), generator=gen).tolist(), torch.randint(2, 80, (640,), generator=gen)
    rows = [{"index": i, "prompt_ids": [5] * p, "reasoning_ids": [9] * (4 * int(t)), "solution_ids": [7, 2]}
            for i, (p, t) in enumerate(zip(prompts, traces))]
    data = {"train": rows, "valid": rows[:40]}
    vocab = LatentVocab(first_code_id=50, codebook_size=4, begin_id=60, end_id=61)
    codes = [[1] * int(t) for t in traces]
    collators = {split: MixingCollator(method("random-replace"), LatentLayout(vocab, 4, 1), codes, pad_id=0,
                                       max_length=1024, seed=0) for split in data}

    def padding_share(window: int, epoch: int = 0) -> tuple[float, list]:
        cfg = make_config("mode=random-replace", "finetune.batch_size=16", f"finetune.length_window={window}")
        (train, valid), order = finetune.make_loaders(data, collators, cfg, method("random-replace"), world_size=1)
        order.set_epoch(epoch)
        collators["train"].epoch = epoch  # as EpochDraws sets it
        batches = [batch["attention_mask"] for batch in train]
        assert sum(len(b) for b in batches) == 640 and len(order.batches()) == 40
        assert sorted(i for batch in order.batches() for i in batch) == list(range(640))  # each record once
        in_valid = [int(n) for batch in valid for n in batch["attention_mask"].sum(1)]
        assert in_valid == sorted(in_valid) and in_valid != sorted(in_valid, reverse=True)  # validation sorted too
        padding = 1 - sum(int(b.sum()) for b in batches) / sum(b.numel() for b in batches)
        return padding, [int(b.sum(1)[0]) for b in batches]

    grouped, first = padding_share(40)
    plain, _ = padding_share(1)
    assert plain > 0.3 and grouped < 0.05
    assert first != sorted(first)  # the batches themselves come in random order
    later, later_first = padding_share(40, epoch=1)
    assert later < 0.05 and later_first != first  # new draws, grouped as drawn, in a new order each epoch


def test_bf16_autocast_by_default_only_where_the_hardware_has_bf16_matrix_units(monkeypatch):
    # without bf16 arithmetic every bf16 product is converted in software: 13.6x slower on an AVX2-only CPU; with
    # AVX512-BF16 alone the tiny model still trained 1.4x faster in fp32
    from token_assorted.precision import bf16_where_fast

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for capabilities, expected in [({"amx_bf16": True}, "bf16-mixed"), ({"avx512_bf16": True}, "32-true"),
                                   ({"avx2": True, "avx512_bf16": False}, "32-true")]:
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
        assert bf16_where_fast("auto") == expected
        assert make_config().trainer.precision == expected
        assert make_config("trainer=ddp").trainer.precision == expected
        assert make_config("trainer.precision=bf16-mixed").trainer.precision == "bf16-mixed"  # asked for: kept

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for gpu_has_bf16, expected in [(True, "bf16-mixed"), (False, "32-true")]:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: gpu_has_bf16)
        assert bf16_where_fast("auto") == expected == make_config().trainer.precision
    assert bf16_where_fast("cpu") == "32-true"  # a CPU run on a GPU machine goes by the CPU (AVX2 alone here)


def test_a_fine_tune_is_quiet_but_for_what_it_did(data_dir, tmp_path, monkeypatch, capfd, caplog):
    # Lightning's start-up lines, its cloud-logging tip and the model summary are noise in every run
    from token_assorted import cli

    train(monkeypatch, data_dir, tmp_path / "out", "mode=cot", "finetune.epochs=1", "trainer.log_every_n_steps=50")
    captured = capfd.readouterr()
    text = captured.out + captured.err + caplog.text
    assert "GPU available" not in text and "Tip" not in text and "Total params" not in text
    assert "smaller than the logging interval" not in text
    assert captured.out.strip().splitlines()[-1].startswith(f"wrote {tmp_path / 'out'}/finetune/prosqa/cot (cot: ")
    # the training loss is logged in a run shorter than trainer.log_every_n_steps too
    log = (tmp_path / "out/finetune/prosqa/cot/train_log.csv").read_text().splitlines()
    assert "train_loss" in log[0] and any(row.split(",")[log[0].split(",").index("train_loss")] for row in log[1:])
    # and a command's first line says what it is about to do
    cfg = make_config(*TINY, "mode=cot")
    line = cli.start_line(finetune.run, cfg, ["prosqa"], ["cot"])
    assert line.startswith("token_assorted.finetune: task prosqa, mode cot, preset default, model tiny (qwen3), cpu ")


def test_training_shows_one_progress_bar_over_all_its_steps(data_dir, tmp_path, monkeypatch, capfd):
    # Lightning's bar starts again each epoch; a run's one bar counts optimizer steps to the end, with the loss
    monkeypatch.setattr(lm_setup, "load_latent_codes", no_vqvae)
    cfg = make_config(*TINY, f"data.dir={data_dir}", f"out_dir={tmp_path}", "mode=cot", "finetune.epochs=3",
                      "finetune.max_steps=7")
    finetune.run(cfg, progress=True)
    bars = [line for line in capfd.readouterr().err.replace("\r", "\n").splitlines() if line.startswith("training:")]
    assert bars[-1].startswith("training: 100%") and "7/7 [" in bars[-1] and "loss=" in bars[-1]
    assert not any("Epoch" in line for line in bars)


def test_trainer_logger_sends_the_curves_to_lightnings_own_loggers_too(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    train(monkeypatch, data_dir, out, "mode=cot", "finetune.epochs=1", "trainer.logger=tensorboard")
    run = out / "finetune" / "prosqa" / "cot"
    assert list((run / "tensorboard").glob("version_0/events.out.tfevents.*"))  # TensorBoard's event file
    assert "train_loss" in (run / "train_log.csv").read_text().splitlines()[0]  # and the CSV logs, as always
    import builtins

    real_import = builtins.__import__

    def without_wandb(name, *args, **kwargs):
        if name == "wandb" or name.startswith("wandb."):
            raise ModuleNotFoundError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_wandb)
    with pytest.raises(ConfigError, match=r"^trainer.logger=wandb needs the wandb package: pip install wandb, or "
                                          r"trainer.logger=csv$"):
        train(monkeypatch, data_dir, tmp_path / "other", "mode=cot", "finetune.epochs=1", "trainer.logger=wandb")
    with pytest.raises(ConfigError, match="unknown trainer.logger 'mlflow'; choose one of: csv, tensorboard, wandb"):
        config.check_settings(make_config("trainer.logger=mlflow"))


def test_a_command_takes_the_free_cores_unless_told(monkeypatch):
    # the tiny model ran 1.7x faster on both cores of an idle 2-core CPU, 2.3x slower on both when one was busy
    import os

    from token_assorted import precision

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    for load, free in ((0.1, 2), (1.2, 1), (5.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
        assert precision.free_cores() == free
    threads = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        precision.set_threads(None)
        assert torch.get_num_threads() == 1  # a load of 5 leaves one core
        precision.set_threads(2)
        assert torch.get_num_threads() == 2  # threads=2 on the command line
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        precision.set_threads(None)
        assert torch.get_num_threads() == 2  # OMP_NUM_THREADS set: left as the environment made it
    finally:
        torch.set_num_threads(threads)
    assert make_config("threads=3").threads == 3
