"""The related methods in the same harness: Pause, iCoT, Coconut and SoftCoT.

Hand-made examples check how each builds its samples or input embeddings; tiny end-to-end runs check that
each fine-tunes, saves what evaluation needs, and is evaluated with its thoughts counted.
"""

import json
import random
import shutil
from functools import partial

import pytest
import torch
from conftest import ROOT, make_config, method, write_reference_splits
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from transformers import LlamaConfig, LlamaForCausalLM

from token_assorted import evaluate, finetune, pipeline, show
from token_assorted.attention import LM_ATTENTION
from token_assorted.config import EVAL_SETTINGS, FINETUNE_SETTINGS, settings
from token_assorted.errors import ConfigError, DataError
from token_assorted.evaluation.generation import Decoding, generate
from token_assorted.evaluation.tokens import count_tokens
from token_assorted.latent import IGNORE, LatentLayout, LatentVocab, sample_rng
from token_assorted.latent.icot import icot_example, removal_per_epoch, removed_tokens, smoothing_offset
from token_assorted.lm.batches import MixingCollator
from token_assorted.methods import METHODS, expand
from token_assorted.thoughts.batches import left_padded, positions, thought_batch
from token_assorted.thoughts.coconut import (
    CoconutCollator, CoconutIds, coconut_embedder, coconut_example, coconut_logits, coconut_loss,
)
from token_assorted.thoughts.softcot import SoftCoTCollator, load_frozen, load_softcot, soft_thoughts, softcot_loss

ROW = {"index": 0, "prompt_ids": [5, 6], "reasoning_ids": [10, 11, 12, 13, 14], "step_lengths": [2, 3],
       "solution_ids": [7, 2]}
VOCAB = LatentVocab(first_code_id=50, codebook_size=4, begin_id=60, end_id=61)
IDS = CoconutIds(begin=40, end=41, thought=42)


LAYOUT = LatentLayout(VOCAB, 4, 1)


def example(m, stage=0, epoch=0):
    return m.example(ROW, (), sample_rng(0, epoch, 0), stage, LAYOUT)


def tiny_gpt2(vocab_size=64, hidden=32, seed=0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab_size, n_embd=hidden, n_inner=64, n_layer=2, n_head=2, n_positions=128,
                        pad_token_id=0, eos_token_id=2, bos_token_id=None)
    return GPT2LMHeadModel(config).eval()


def tiny_llama(vocab_size=64, hidden=32, seed=0):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=0, eos_token_id=2, bos_token_id=None)
    return LlamaForCausalLM(config).eval()


# --- sequences and schedules -----------------------------------------------------------------------------


def test_pause_sample_puts_pauses_between_question_and_answer_and_skips_them_in_the_loss():
    pause = method("pause", pause_tokens=3)
    pause.pause_id = 99  # as prepare() sets it, adding <pause> to the tokenizer
    e = example(pause)
    assert e.input_ids == [5, 6, 99, 99, 99, 7, 2]
    assert e.labels == [IGNORE] * 5 + [7, 2]


def test_icot_removes_tokens_from_the_left_epoch_by_epoch_until_it_answers_directly():
    assert removal_per_epoch(None, longest_trace=10, epochs=3) == 5  # all gone by the last epoch (epoch 2)
    assert removal_per_epoch(None, longest_trace=10, epochs=1) == 10
    assert removal_per_epoch(2, longest_trace=10, epochs=3) == 2
    mode = method("icot", removed_per_epoch=2)
    stages = [mode.stage_for_epoch(epoch, 4) for epoch in range(4)]
    assert stages == [0, 1, 2, 3]
    samples = [example(mode, stage=s).input_ids for s in stages]
    assert samples == [[5, 6, 10, 11, 12, 13, 14, 7, 2], [5, 6, 12, 13, 14, 7, 2], [5, 6, 14, 7, 2], [5, 6, 7, 2]]
    assert example(mode, stage=1).labels == [IGNORE, IGNORE, 12, 13, 14, 7, 2]
    assert icot_example(ROW, 5).input_ids == [5, 6, 7, 2]


def test_icot_removal_smoothing_draws_a_few_extra_tokens_with_exponentially_falling_odds():
    rng = random.Random(0)
    offsets = [smoothing_offset(rng, 1.0) for _ in range(4000)]
    share = [offsets.count(o) / len(offsets) for o in range(3)]
    # P(o) = (1 - e^-1) e^-o: 0.632, 0.233, 0.086
    assert share[0] == pytest.approx(0.632, abs=0.03) and share[1] == pytest.approx(0.233, abs=0.03)
    assert share[2] == pytest.approx(0.086, abs=0.02)
    assert smoothing_offset(rng, None) == 0
    assert removed_tokens(5, 1, 2, random.Random(0), None) == 2
    assert removed_tokens(5, 9, 2, random.Random(0), 1.0) == 5  # never more than the trace


def test_coconut_stage_k_replaces_k_steps_with_k_times_c_thoughts_in_aligned_columns():
    coconut = method("coconut", thoughts_per_step=2, max_stage=3, epochs_per_stage=1)
    mode = coconut.settings
    assert [coconut.stage_for_epoch(e, 6) for e in range(6)] == [0, 1, 2, 3, 3, 3]
    e0, e1, e3 = (coconut_example(ROW, k, IDS) for k in (0, 1, 3))
    assert (e0.prefix, e0.suffix) == ([5, 6, 40], [41, 10, 11, 12, 13, 14, 7, 2])
    assert e0.suffix_labels == [IGNORE, 10, 11, 12, 13, 14, 7, 2]
    assert e1.suffix == [41, 12, 13, 14, 7, 2]
    assert e3.suffix == [41, 7, 2]  # a stage beyond the steps drops them all

    collate = CoconutCollator(mode, IDS, pad_id=0, max_length=64, file="data/prosqa/train.json")
    collate.stage = 1
    short = {**ROW, "index": 1, "prompt_ids": [8]}
    batch = collate([ROW, short])
    assert batch["thought_start"] == 3 and batch["thoughts"] == 2
    assert batch["input_ids"].tolist() == [[5, 6, 40, 42, 42, 41, 12, 13, 14, 7, 2],
                                           [0, 8, 40, 42, 42, 41, 12, 13, 14, 7, 2]]
    assert batch["attention_mask"][1].tolist() == [0] + [1] * 10
    assert batch["labels"][0].tolist() == [IGNORE] * 6 + [12, 13, 14, 7, 2]
    collate.max_length = 10
    with pytest.raises(DataError, match=r"^data/prosqa/train.json, record 0: the coconut sample has 11 positions, more"):
        collate([ROW])


def test_thought_batch_pads_prefixes_left_and_suffixes_right():
    from token_assorted.thoughts.batches import ThoughtExample

    batch = thought_batch([ThoughtExample([1], [3, 4], [3, 4]), ThoughtExample([1, 2], [5], [IGNORE])], 1, 9, 0)
    assert batch["input_ids"].tolist() == [[0, 1, 9, 3, 4], [1, 2, 9, 5, 0]]
    assert batch["attention_mask"].tolist() == [[0, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert batch["labels"].tolist() == [[IGNORE, IGNORE, IGNORE, 3, 4], [IGNORE] * 5]
    assert positions(batch["attention_mask"]).tolist() == [[0, 0, 1, 2, 3], [0, 1, 2, 3, 3]]


def test_mode_checks_and_all_methods():
    for name, bad in (("pause", {"pause_tokens": 0}), ("coconut", {"thoughts_per_step": 0}),
                      ("softcot", {"soft_thoughts": 0}), ("icot", {"removed_per_epoch": 0}),
                      ("icot", {"removal_smoothing": 0.0})):
        with pytest.raises(ConfigError):
            method(name, **bad)
    with pytest.raises(TypeError):  # a key cot's settings do not have
        method("cot", reset_optimizer=True)
    assert {"pause", "icot", "coconut", "softcot"} <= set(METHODS)
    methods = expand(["all"])
    assert methods == ["sol-only", "cot", "random-replace", "pause", "icot", "coconut", "softcot"]
    assert sorted(expand(["all", "ablations"])) == sorted(METHODS)  # each method once
    assert expand(["fixed", "all"]) == ["fixed", *methods]
    assert count_tokens([3, 4, 2], frozenset(), thoughts=5).as_dict() == {
        "generated_tokens": 8, "latent_tokens": 0, "text_tokens": 3, "thought_tokens": 5}


def test_mixing_collator_builds_pause_and_icot_batches():
    rows = [ROW, {**ROW, "index": 1}]
    pausing = method("pause", pause_tokens=2)
    pausing.pause_id = 99
    pause = MixingCollator(pausing, LAYOUT, None, pad_id=0, max_length=64, seed=0)
    assert pause(rows)["input_ids"][0].tolist() == [5, 6, 99, 99, 7, 2]
    icot = MixingCollator(method("icot", removed_per_epoch=3), LAYOUT, None, pad_id=0, max_length=64, seed=0)
    icot.stage = 1
    assert icot(rows)["input_ids"][0].tolist() == [5, 6, 13, 14, 7, 2]
    pause.max_length, pause.file = 5, "valid.json"
    with pytest.raises(DataError, match=r"^valid.json, record 0: the pause sample has 6 tokens, more than the model's"):
        pause(rows)


# --- continuous thoughts: batched with a KV cache = one example at a time, recomputed in full ---------------


def naive_thoughts(model, prefix: list[int], count: int) -> torch.Tensor:
    """Each thought from a full pass over everything before it, one unpadded example."""
    embeds = model.get_input_embeddings()(torch.tensor([prefix]))
    for _ in range(count):
        state = model.base_model(inputs_embeds=embeds).last_hidden_state[:, -1:]
        embeds = torch.cat([embeds, state], 1)
    return embeds[0, len(prefix):]


@pytest.mark.parametrize("build", [tiny_llama, tiny_gpt2], ids=["llama", "gpt2"])
def test_coconut_batched_cached_forward_matches_naive_recomputation(build):
    model = build()
    mode = method("coconut", thoughts_per_step=2).settings
    rows = [ROW, {**ROW, "index": 1, "prompt_ids": [8, 9, 3, 4, 5], "step_lengths": [1, 4]}]
    collate = CoconutCollator(mode, IDS, pad_id=0, max_length=64)
    collate.stage = 1
    batch = collate(rows)
    with torch.no_grad():
        logits, first = coconut_logits(model, batch)
    width = batch["input_ids"].shape[1]
    for row_index, row in enumerate(rows):
        e = coconut_example(row, 1, IDS)
        thoughts = naive_thoughts(model, e.prefix, 2)
        embeds = torch.cat([model.get_input_embeddings()(torch.tensor([e.prefix]))[0], thoughts,
                            model.get_input_embeddings()(torch.tensor([e.suffix]))[0]])
        with torch.no_grad():
            full = model(inputs_embeds=embeds[None]).logits[0]
        pad = batch["thought_start"] - len(e.prefix)
        real = len(e.prefix) + 2 + len(e.suffix)
        # batched logits cover columns first .. width-1; compare the row's real columns among them
        for column in range(first, pad + real):
            torch.testing.assert_close(logits[row_index, column - first], full[column - pad], atol=1e-4, rtol=1e-4)
        assert width >= pad + real

    model.train()
    loss = coconut_loss(model, batch)
    loss.backward()
    # the loss reaches the prompt's embeddings also through the thoughts fed back
    assert model.get_input_embeddings().weight.grad[[5, 6, 8, 9]].abs().sum() > 0


def test_coconut_generation_batched_matches_one_by_one():
    model = tiny_llama(seed=1)
    prompts = [[5, 6, 40], [8, 9, 3, 4, 40], [7, 40]]

    class Tokenizer:  # what generate() reads from a tokenizer
        pad_token_id, eos_token_id = 0, 2

    embed = coconut_embedder(model, IDS, count=3)
    with torch.no_grad():
        embeds, mask, cache = embed(*left_padded(prompts, 0))
    assert cache.get_seq_length() == embeds.shape[1] - 2  # all but the last thought and <eot>: read once
    for row, prompt in enumerate(prompts):
        thoughts = naive_thoughts(model, prompt, 3)
        torch.testing.assert_close(embeds[row, -4:-1], thoughts, atol=1e-4, rtol=1e-4)
        assert mask[row].sum() == len(prompt) + 4
    batched = generate(model, Tokenizer, prompts, max_new_tokens=6, batch_size=3, progress=False, embed=embed)
    one = [generate(model, Tokenizer, [p], max_new_tokens=6, progress=False, embed=embed)[0] for p in prompts]
    assert batched == one and all(len(g[0]) >= 1 for g in batched)

    fed = []  # positions each forward pass of the model runs
    model.model.register_forward_pre_hook(lambda module, args, kwargs: fed.append(kwargs["inputs_embeds"].shape[1]
                                          if kwargs.get("inputs_embeds") is not None else kwargs["input_ids"].shape[1]),
                                          with_kwargs=True)
    without_cache = generate(model, Tokenizer, prompts, max_new_tokens=6, batch_size=3, progress=False,
                             embed=lambda ids, mask: (*embed(ids, mask)[:2], None))
    read_twice = fed[:]
    fed.clear()
    with_cache = generate(model, Tokenizer, prompts, max_new_tokens=6, batch_size=3, progress=False, embed=embed)
    assert with_cache == without_cache
    assert sum(fed) == sum(read_twice) - (len(prompts[1]) + 2)  # the widest prompt and two thoughts, not run again
    sampled = generate(model, Tokenizer, prompts, max_new_tokens=6, batch_size=6, progress=False, embed=embed,
                       decoding=Decoding(top_k=5, samples=3))  # the maze's protocol: several samples per prompt
    assert [len(samples) for samples in sampled] == [3, 3, 3]


def test_softcot_soft_thoughts_come_from_the_placeholders_and_only_the_projection_learns():
    main, assistant = tiny_llama(seed=2), tiny_llama(hidden=16, seed=3)
    projection = torch.nn.Linear(16, 32)
    rows = [ROW, {**ROW, "index": 1, "prompt_ids": [8, 9, 3]}]
    helper_prompts = [[5, 6], [8, 9, 3]]
    collate = SoftCoTCollator(2, helper_prompts, pad_id=0, assistant_pad_id=0, max_length=64)
    batch = collate(rows)
    assert batch["assistant_input_ids"].tolist() == [[0, 5, 6, 0, 0], [8, 9, 3, 0, 0]]
    assert batch["assistant_attention_mask"].tolist() == [[0, 1, 1, 1, 1], [1] * 5]
    assert batch["input_ids"][0].tolist()[:3] == [0, 5, 6] and batch["thought_start"] == 3
    thoughts = soft_thoughts(assistant, projection, batch["assistant_input_ids"], batch["assistant_attention_mask"], 2)
    for row, prompt in enumerate(helper_prompts):
        alone = assistant.base_model(input_ids=torch.tensor([prompt + [0, 0]])).last_hidden_state[0, -2:]
        torch.testing.assert_close(thoughts[row], projection(alone), atol=1e-5, rtol=1e-4)
    main.requires_grad_(False)
    assistant.requires_grad_(False)
    softcot_loss(main, assistant, projection, batch).backward()
    assert projection.weight.grad.abs().sum() > 0


# --- tiny end-to-end runs ------------------------------------------------------------------------------------

TINY = [
    "base.use=false",  # from model.*, not from a base model (tests that want one set base.use=true)
    "task=prosqa", "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "finetune.epochs=2", "finetune.batch_size=8", "finetune.lr=3e-3", "trainer.log_every_n_steps=1",
    "eval.limit=4", "eval.batch_size=4", "task.max_new_tokens=16",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, reference_dir):
    return write_reference_splits(tmp_path_factory.mktemp("data"), 40, 8, 4)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("out")


def train_and_evaluate(data_dir, out, *overrides):
    cfg = make_config(*TINY, f"data.dir={data_dir}", f"out_dir={out}", *overrides)
    directory = finetune.run(cfg, progress=False)
    results = evaluate.run(cfg, progress=False)
    meta = json.loads((directory / "meta.json").read_text())
    return directory, meta, results


def check_counts(results, thoughts):
    assert results["n"] == 4 and results["thought_tokens"] == thoughts
    assert results["generated_tokens"] == pytest.approx(results["text_tokens"] + results["latent_tokens"] + thoughts)


def test_pause_end_to_end(data_dir, out):
    directory, meta, results = train_and_evaluate(data_dir, out, "mode=pause", "mode.pause_tokens=3")
    spec = json.loads((directory / "thoughts.json").read_text())
    assert spec["mode"] == "pause" and spec["thoughts"] == 3
    assert meta["mode"] == "pause"
    check_counts(results, 3)
    # make bench measures it as evaluate does: its pauses included
    from token_assorted.bench.inference import loaded, one_run
    from token_assorted.data.splits import load_split

    cfg = make_config(*TINY, f"data.dir={data_dir}", f"out_dir={out}", "mode=pause", "mode.pause_tokens=3")
    bench = one_run(cfg, loaded(cfg, "cpu"), load_split(cfg, "test")[: results["n"]], torch.device("cpu"))
    assert (bench["accuracy"], bench["generated_tokens"]) == (results["accuracy"], results["generated_tokens"])


def test_icot_end_to_end(data_dir, out):
    directory, meta, results = train_and_evaluate(data_dir, out, "mode=icot")
    longest = meta["removed_per_epoch"]  # null: one epoch after the first removes the longest trace
    assert meta["curriculum_stage"] == 1 and meta["removed_in_last_epoch"] == longest >= 20
    assert not (directory / "thoughts.json").exists()
    check_counts(results, 0)


def test_coconut_end_to_end_stores_the_thoughts_it_ends_with(data_dir, out):
    directory, meta, results = train_and_evaluate(
        data_dir, out, "mode=coconut", "mode.thoughts_per_step=2", "mode.max_stage=3", "mode.epochs_per_stage=1")
    spec = json.loads((directory / "thoughts.json").read_text())
    assert spec["stage"] == 1 and spec["thoughts"] == meta["thoughts"] == 2
    log = (directory / "train_log.csv").read_text().splitlines()
    assert "stage" in log[0]
    check_counts(results, 2 + 2)  # two thoughts, <bot> and <eot>
    # the evaluation's own mode settings do not change what a checkpoint evaluated as it is uses
    cfg = make_config(*TINY, f"data.dir={data_dir}", f"out_dir={out}", "mode=coconut", "mode.thoughts_per_step=5",
                      f"eval.checkpoint={directory}")
    assert evaluate.run(cfg, progress=False)["thought_tokens"] == 4
    shown = show.run(cfg)
    assert shown["thought_tokens"] == 4 and shown["generated_tokens"] == shown["text_tokens"] + 4


def test_softcot_end_to_end_trains_only_the_projection(data_dir, out):
    from transformers import AutoModelForCausalLM

    cot = finetune.run(make_config(*TINY, f"data.dir={data_dir}", f"out_dir={out}", "mode=cot"), progress=False)
    assistant = [f"data.dir={data_dir}", f"out_dir={out / 'assistant'}", "mode=cot", "model=tiny-assistant",
                 "model.hidden_size=16", "model.num_layers=1", "model.intermediate_size=32", "finetune.epochs=1"]
    finetune.run(make_config("task=prosqa", *assistant), progress=False)
    directory, meta, results = train_and_evaluate(data_dir, out, "mode=softcot", "mode.soft_thoughts=3")
    assert meta["trainable_parameters"] == 16 * 32 + 32
    assistant_size = AutoModelForCausalLM.from_pretrained(directory / "assistant").num_parameters()
    assert results["parameters"] == meta["parameters"] + assistant_size + 16 * 32 + 32
    assert set(meta["inputs"]) >= {"main", "assistant"}
    main_before = AutoModelForCausalLM.from_pretrained(cot).state_dict()
    main_after = AutoModelForCausalLM.from_pretrained(directory).state_dict()
    assert all(torch.equal(main_before[k], main_after[k]) for k in main_before)
    assert (directory / "assistant" / "config.json").is_file() and (directory / "projection.safetensors").is_file()
    check_counts(results, 3)
    # the frozen LMs attend in float32 under a CPU's bf16 autocast, as a model built here does; nothing saves that
    main, _ = load_frozen(cot, "main", None)
    assert main.config._attn_implementation == LM_ATTENTION and main.dtype == torch.float32
    assert load_frozen(cot, "main", None, torch.bfloat16)[0].dtype == torch.bfloat16
    assert LM_ATTENTION not in (directory / "assistant" / "config.json").read_text()
    # a SoftCoT checkpoint that lost its assistant: one line that says so, not a traceback
    shutil.rmtree(directory / "assistant")
    with pytest.raises(ConfigError, match=r"no assistant LM at .*assistant: the SoftCoT checkpoint is incomplete$"):
        load_softcot(directory, main, "cpu")


def run_pipeline(overrides):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        return pipeline.run(compose(config_name="config", overrides=overrides), overrides=overrides)


@pytest.mark.slow
def test_pipeline_trains_softcots_frozen_models_first(tmp_path, capfd):
    overrides = [
        "base.use=false",
        "task.sizes.train=48", "task.sizes.valid=8", "task.sizes.test=8", "model.hidden_size=32",
        "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64", "finetune.epochs=1",
        "finetune.batch_size=16", "task.max_new_tokens=8", "pipeline.tasks=[prosqa]", "pipeline.methods=[softcot]",
        f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path / 'outputs'}",
    ]
    results = run_pipeline(overrides)
    printed = capfd.readouterr().out
    for stage in ("prosqa/cot (SoftCoT main LM): fine-tune", "prosqa/cot (SoftCoT assistant LM): fine-tune",
                  "prosqa/softcot: fine-tune", "prosqa/softcot: evaluate"):
        assert f"=== {stage}\n" in printed
    assert (tmp_path / "outputs" / "assistant" / "finetune" / "prosqa" / "cot" / "config.json").is_file()
    assert results["prosqa"]["softcot"]["thought_tokens"] == 4
    summary = json.loads((tmp_path / "outputs" / "eval" / "summary.json").read_text())["results"]
    assert summary["prosqa"]["softcot"]["thought_tokens"] == 4
    assert run_pipeline(overrides) == results
    assert "===" not in capfd.readouterr().out  # everything reused


def test_softcot_without_its_frozen_models_says_what_to_run(data_dir, tmp_path):
    cfg = make_config(*TINY, f"data.dir={data_dir}", f"out_dir={tmp_path}", "mode=softcot")
    with pytest.raises(ConfigError, match=r"no main LM at .*mode=cot .*out_dir="):
        finetune.run(cfg, progress=False)
    assert not (tmp_path / "finetune" / "prosqa" / "softcot").exists()


def test_the_sampling_seed_follows_the_seed_and_alone_changes_only_the_evaluation():
    base, resampled = make_config("mode=cot"), make_config("mode=cot", "eval.seed=5")
    assert base.eval.seed == 0 and make_config("seed=3").eval.seed == 3 and resampled.seed == 0
    finetune, evaluation = (partial(settings, keys=keys) for keys in (FINETUNE_SETTINGS, EVAL_SETTINGS))
    assert finetune(resampled) == finetune(base) and evaluation(resampled) != evaluation(base)
    # a precision other than the one a fine-tune was trained under makes it another run
    precisions = [make_config("mode=cot", f"trainer.precision={p}") for p in ("bf16-mixed", "32-true")]
    assert finetune(precisions[0]) != finetune(precisions[1])


def test_a_recorded_run_depends_on_its_own_method_settings_alone():
    cfg = make_config("mode=cot")
    recorded = OmegaConf.to_container(cfg, resolve=True)
    assert recorded["mode"] == {"name": "cot"}  # cot reads no other key: no other method's setting is part of it
    assert settings(recorded, FINETUNE_SETTINGS) == settings(cfg, FINETUNE_SETTINGS)
    fixed = OmegaConf.to_container(make_config("mode=fixed"), resolve=True)
    assert settings(fixed, ["mode"]) != settings(make_config("mode=fixed", "mode.m=8"), ["mode"])
    # a run of a method with settings of its own, recorded before a setting was added elsewhere (here: base.*), is
    # compared with that setting at its default, as any other
    del fixed["base"]
    assert settings(fixed, FINETUNE_SETTINGS) == settings(make_config("mode=fixed"), FINETUNE_SETTINGS)
    recorded["finetune"]["no_such_setting"] = 1  # a config that no longer fits the schema is compared as recorded
    assert settings(recorded, ["finetune"])["finetune"]["no_such_setting"] == 1
