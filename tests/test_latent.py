"""The latent vocabulary, every replacement mode's X̃, and the start values of the latent embeddings."""

import random
from dataclasses import replace

import pytest
import torch
from conftest import make_config
from conftest import method as mode

from token_assorted.methods import METHODS
from token_assorted.data.tokenizer import build_word_tokenizer
from token_assorted.errors import ConfigError, DataError
from token_assorted.latent import (
    BEGIN_LATENT,
    END_LATENT,
    IGNORE,
    LatentLayout,
    LatentVocab,
    extend_tokenizer,
    latent_token,
    latent_vocab,
    mix_reasoning,
    sample_rng,
)
from token_assorted.latent.chunks import curriculum_stage, poisson_replace, random_replace
from token_assorted.latent.embeddings import add_latent_embeddings, code_tokens

VOCAB = LatentVocab(first_code_id=100, codebook_size=8, begin_id=90, end_id=91)
L, C = 4, 2  # chunk size and codes per chunk (L/r with r = 2)
PROMPT, SOLUTION = [1, 2, 3], [7, 8, 2]
TRACE = list(range(10, 20))  # 10 tokens: chunks [10..13] [14..17] [18, 19]
CODES = [0, 1, 2, 3, 4, 5]  # 3 chunks × 2 codes
ROW = {"index": 0, "prompt_ids": PROMPT, "reasoning_ids": TRACE, "solution_ids": SOLUTION}


LAYOUT = LatentLayout(VOCAB, L, C)


def ids(*codes):
    return [VOCAB.code_id(c) for c in codes]


def example(m, stage=0, rng=None):
    return m.example(ROW, CODES, rng or random.Random(0), stage, LAYOUT)


def chunks_of(tokens):
    """Read a layout back off X̃'s reasoning part: how many latent blocks and which codes."""
    blocks, inside = [], False
    for t in tokens:
        if t == VOCAB.begin_id:
            blocks.append([])
            inside = True
        elif t == VOCAB.end_id:
            inside = False
        elif inside:
            blocks[-1].append(VOCAB.code_of(t))
    return blocks


# --- sequences -------------------------------------------------------------------------------------


def test_cot_keeps_the_whole_trace_and_masks_only_the_prompt():
    e = example(mode("cot"))
    assert e.input_ids == PROMPT + TRACE + SOLUTION
    assert e.labels == [IGNORE] * 3 + TRACE + SOLUTION


def test_sol_only_drops_the_trace():
    e = example(mode("sol-only"))
    assert e.input_ids == PROMPT + SOLUTION
    assert e.labels == [IGNORE] * 3 + SOLUTION


@pytest.mark.parametrize(
    "m, expected",
    [
        (0, TRACE),  # no latent block at all
        (3, TRACE),  # less than a chunk rounds down to none
        (4, [90, *ids(0, 1), 91] + TRACE[4:]),
        (7, [90, *ids(0, 1), 91] + TRACE[4:]),  # rounded down to whole chunks
        (8, [90, *ids(0, 1, 2, 3), 91] + TRACE[8:]),
        (10, [90, *ids(0, 1, 2, 3, 4, 5), 91]),  # m reaches the trace: the partial chunk goes too
        (64, [90, *ids(0, 1, 2, 3, 4, 5), 91]),
    ],
)
def test_fixed_replaces_the_leftmost_whole_chunks(m, expected):
    e = example(mode("fixed", m=m))
    assert e.input_ids == PROMPT + expected + SOLUTION
    assert e.labels == [IGNORE] * len(PROMPT) + expected + SOLUTION


def test_all_replace_turns_the_whole_trace_into_one_block_including_the_partial_chunk():
    e = example(mode("all-replace"))
    assert e.input_ids == PROMPT + [VOCAB.begin_id, *ids(*CODES), VOCAB.end_id] + SOLUTION
    assert sum(1 for t in e.input_ids if VOCAB.code_of(t) is not None) == 6


def test_each_run_of_replaced_chunks_gets_its_own_delimiters():
    trace = list(range(10, 30))  # 5 chunks
    codes = [c % 8 for c in range(10)]
    mixed = mix_reasoning(trace, codes, [0, 1, 3], VOCAB, L, C)
    assert mixed == [90, *ids(0, 1, 2, 3), 91, *trace[8:12], 90, *ids(6, 7), 91, *trace[16:20]]
    assert mix_reasoning(trace, codes, [4], VOCAB, L, C) == trace[:16] + [90, *ids(0, 1), 91]


def test_codes_that_do_not_match_the_trace_are_refused():
    with pytest.raises(DataError, match="expected 3 chunks"):
        mix_reasoning(TRACE, CODES[:4], [0], VOCAB, L, C)


def test_random_replace_default_draws_every_chunk_count_from_none_to_the_whole_trace():
    drawn = set()
    for index in range(200):
        e = mode("random-replace").example(ROW, CODES, sample_rng(0, 0, index), 0, LAYOUT)
        blocks = chunks_of(e.input_ids)
        assert len(blocks) <= 1
        codes = blocks[0] if blocks else []
        assert codes == CODES[: len(codes)] and len(codes) % 2 == 0  # a left prefix of whole chunks
        drawn.add(len(codes) // 2)
    assert drawn == {0, 1, 2, 3}


def test_random_replace_choices_round_down_and_cover_the_set():
    counts = {len(random_replace(random.Random(i), 10, L, [0, 5, 100])) for i in range(100)}
    assert counts == {0, 1, 3}


def test_draws_are_reproducible_per_sample_and_fresh_per_epoch():
    def draw(epoch, index):
        return mode("random-replace").picked(sample_rng(7, epoch, index), 40, L, 0)

    assert [draw(0, i) for i in range(20)] == [draw(0, i) for i in range(20)]
    assert [draw(0, i) for i in range(20)] != [draw(1, i) for i in range(20)]


def test_poisson_runs_are_wrapped_and_the_rate_holds():
    rng = random.Random(3)
    for index in range(50):
        trace = list(range(10, 10 + 4 * 9))  # 9 chunks
        codes = [c % 8 for c in range(18)]
        picked = poisson_replace(random.Random(index), len(trace), L, 0.5)
        mixed = mix_reasoning(trace, codes, picked, VOCAB, L, C)
        runs = sum(1 for j in picked if j - 1 not in picked)
        assert mixed.count(VOCAB.begin_id) == mixed.count(VOCAB.end_id) == runs
        assert len(mixed) == 36 - 2 * len(picked) + 2 * runs  # a chunk of 4 tokens becomes 2 codes
        text = [t for t in mixed if t < VOCAB.begin_id]
        assert text == [t for j, t in enumerate(trace) if j // L not in picked]
    share = sum(len(poisson_replace(rng, 400, L, 0.3)) for _ in range(20)) / (20 * 100)
    assert 0.25 < share < 0.35
    assert poisson_replace(rng, 10, L, 0.0) == [] and poisson_replace(rng, 10, L, 1.0) == [0, 1, 2]


def test_curriculum_caps_grow_with_the_stage():
    caps = mode("curriculum-replace", stage_caps=[0, 4, 8, 64])
    lengths = [sum(len(b) for b in chunks_of(example(caps, stage).input_ids)) for stage in range(4)]
    assert lengths == [0, 2, 4, 6]


def test_curriculum_stages_advance_with_the_epochs():
    assert [curriculum_stage(e, 8, 4) for e in range(8)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [curriculum_stage(e, 10, 4) for e in range(10)] == [0, 0, 1, 1, 2, 2, 3, 3, 3, 3]
    assert [curriculum_stage(e, 3, 4) for e in range(3)] == [0, 1, 2]
    assert [curriculum_stage(e, 9, 3, epochs_per_stage=2) for e in range(9)] == [0, 0, 1, 1, 2, 2, 2, 2, 2]
    cur = mode("curriculum-replace", stage_caps=[0, 16])
    assert [cur.stage_for_epoch(e, 4) for e in range(4)] == [0, 0, 1, 1]
    assert mode("random-replace").stage_for_epoch(3, 4) == 0
    assert [m.stage_count() for m in (cur, mode("coconut", max_stage=3), mode("icot"), mode("cot"))] == [2, 4, None, None]


@pytest.mark.parametrize(
    "name, settings",
    [
        ("latent-everything", {}),
        ("fixed", {"m": -1}),
        ("random-replace", {"m_choices": []}),
        ("curriculum-replace", {"stage_caps": []}),
        ("curriculum-replace", {"stage_caps": [32, 16]}),
        ("poisson-replace", {"latent_rate": 1.5}),
        ("random-replace", {"code_weight": 0.0}),
    ],
)
def test_impossible_modes_are_refused(name, settings):
    with pytest.raises(ConfigError):
        mode(name, **settings)


def test_each_method_reads_the_keys_of_its_own_settings_and_no_other():
    # a method's settings are its mode section: a key of another method's is refused by the schema itself
    from hydra.errors import ConfigCompositionException
    from omegaconf import OmegaConf

    from token_assorted.methods import keys_read

    for name, cls in METHODS.items():
        section = make_config(f"mode={name}").mode
        assert set(OmegaConf.to_container(section)) == set(keys_read(name)) and section.name == name
        assert isinstance(OmegaConf.to_object(section), cls.Settings)
    assert make_config("mode=fixed", "mode.m=3").mode.m == 3
    with pytest.raises(ConfigCompositionException, match="mode.m"):
        make_config("mode=cot", "mode.m=3")


def test_code_weight_counts_code_labels_that_many_times_in_training_only():
    from transformers import GPT2Config, GPT2LMHeadModel

    from token_assorted.latent import IGNORE
    from token_assorted.lm.module import CausalLMModule

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=16, n_embd=8, n_layer=1, n_head=1, n_positions=16, resid_pdrop=0.0,
                                       embd_pdrop=0.0, attn_pdrop=0.0))
    codes = range(10, 14)
    batch = {"input_ids": torch.tensor([[1, 2, 10, 11, 3, 4], [1, 12, 5, 6, 0, 0]]),
             "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])}
    batch["labels"] = torch.tensor([[IGNORE, 2, 10, 11, 3, 4], [IGNORE, 12, 5, 6, IGNORE, IGNORE]])
    optim = make_config().finetune
    plain = CausalLMModule(model, optim).loss(batch)
    method = mode("random-replace", code_weight=3.0)
    method.code_ids = codes
    module = method.module(model, optim).train()
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    each = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch["labels"][:, 1:], ignore_index=IGNORE,
                                             reduction="none")
    weights = torch.tensor([[1, 3, 3, 1, 1], [3, 1, 1, 0, 0]], dtype=torch.float)
    assert torch.allclose(module.loss(batch), (each * weights).sum() / 8)  # 8 labels
    assert not torch.allclose(module.loss(batch), plain)
    assert torch.allclose(module.eval().loss(batch), plain)  # val_loss stays the plain mean
    assert type(mode("random-replace").module(model, optim)) is CausalLMModule


# --- vocabulary ------------------------------------------------------------------------------------

TEXTS = ["Tom is a wumpus.\nEvery wumpus is a yumpus.\n### Tom is a yumpus."]


def test_word_tokenizer_round_trip_with_latent_tokens(tmp_path):
    from transformers import AutoTokenizer

    tokenizer = build_word_tokenizer(TEXTS)
    base = len(tokenizer)
    vocab = extend_tokenizer(tokenizer, 8)
    assert len(tokenizer) == base + 10 and vocab.new_ids == tuple(range(base, base + 10))
    for code in range(8):
        assert tokenizer.encode(latent_token(code), add_special_tokens=False) == [vocab.code_id(code)]
        assert vocab.code_of(vocab.code_id(code)) == code
    text = f"Tom is a wumpus.\n{BEGIN_LATENT}{latent_token(3)}{latent_token(7)}{END_LATENT} is a yumpus.\n"
    encoded = tokenizer.encode(text, add_special_tokens=False)
    assert encoded[6:10] == [vocab.begin_id, vocab.code_id(3), vocab.code_id(7), vocab.end_id]
    assert tokenizer.decode(encoded) == text
    assert tokenizer.convert_ids_to_tokens(encoded[6:10]) == [BEGIN_LATENT, "<latent_3>", "<latent_7>", END_LATENT]

    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.encode(text, add_special_tokens=False) == encoded
    again = extend_tokenizer(reloaded, 8)
    assert again.new_ids == () and again.ids == vocab.ids and len(reloaded) == len(tokenizer)
    assert latent_vocab(reloaded) == LatentVocab(vocab.first_code_id, 8, vocab.begin_id, vocab.end_id)
    with pytest.raises(ConfigError, match="already has 8"):
        extend_tokenizer(reloaded, 16)


def test_a_bpe_tokenizer_keeps_latent_tokens_whole():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(TEXTS * 5, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|end|>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|end|>")
    vocab = extend_tokenizer(tokenizer, 4)
    text = f"Tom{BEGIN_LATENT}<latent_2><latent_0>{END_LATENT} is"
    encoded = tokenizer.encode(text, add_special_tokens=False)
    assert [vocab.begin_id, vocab.code_id(2), vocab.code_id(0), vocab.end_id] == encoded[1:5]
    assert tokenizer.decode(encoded) == text


def test_latent_vocab_needs_latent_tokens():
    with pytest.raises(ConfigError, match="no latent tokens"):
        latent_vocab(build_word_tokenizer(TEXTS))


# --- embeddings ------------------------------------------------------------------------------------


def tiny_model(arch, vocab_size):
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    torch.manual_seed(0)
    if arch == "llama":
        config = LlamaConfig(vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                             num_attention_heads=2, num_key_value_heads=2)
    else:
        config = GPT2Config(vocab_size=vocab_size, n_embd=16, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    return AutoModelForCausalLM.from_config(config)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])  # untied and tied output embeddings
def test_mean_init_gives_new_rows_the_mean_of_the_old(arch):
    tokenizer = build_word_tokenizer(TEXTS)
    model = tiny_model(arch, len(tokenizer))
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    vocab = extend_tokenizer(tokenizer, 8)
    add_latent_embeddings(model, vocab, "mean")
    new_in, new_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    n = len(old_in)
    assert new_in.shape[0] == new_out.shape[0] == len(tokenizer) == model.config.vocab_size
    assert torch.equal(new_in[:n], old_in) and torch.equal(new_out[:n], old_out)
    for row in vocab.new_ids:
        assert torch.allclose(new_in[row], old_in.mean(0), atol=1e-6)
        assert torch.allclose(new_out[row], old_out.mean(0), atol=1e-6)
    before = new_in.detach().clone()
    add_latent_embeddings(model, extend_tokenizer(tokenizer, 8), "mean")  # already there: nothing changes
    assert torch.equal(model.get_input_embeddings().weight, before)


def test_code_tokens_follow_chunks_and_slots():
    covered = code_tokens([[0, 1, 2, 0, 1, 3]], [TRACE], L, 2, C, 4)
    assert covered == [[10, 11, 16, 17], [12, 13, 18, 19], [14, 15], []]
    # an RVQ with 2 stages: both codes of a vector stand for its r = 2 tokens
    covered = code_tokens([[0, 1, 2, 3]], [[10, 11, 12, 13]], L, 2, 4, 4)
    assert covered == [[10, 11], [10, 11], [12, 13], [12, 13]]


def test_codebook_init_maps_codes_to_the_embeddings_they_stood_for():
    tokenizer = build_word_tokenizer(TEXTS)
    model = tiny_model("llama", len(tokenizer))
    old = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    vocab = extend_tokenizer(tokenizer, 4)
    codebook = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    codebook[3] = 0.25 * codebook[0] + 0.75 * codebook[1]  # never used: placed between codes 0 and 1
    covered = [[3, 4], [5], [6, 7, 8], []]
    add_latent_embeddings(model, vocab, "codebook", codebook, covered)
    rows = model.get_input_embeddings().weight.detach()
    for code in range(3):  # 3 used codes, 7 map parameters per output dim: every target is hit
        assert torch.allclose(rows[vocab.code_id(code)], old[covered[code]].mean(0), atol=1e-5)
    # an affine map keeps affine combinations, so the unused code lands between codes 0 and 1
    expected = 0.25 * rows[vocab.code_id(0)] + 0.75 * rows[vocab.code_id(1)]
    assert torch.allclose(rows[vocab.code_id(3)], expected, atol=1e-5)
    assert torch.allclose(rows[vocab.begin_id], old.mean(0), atol=1e-6)
    out = model.get_output_embeddings().weight.detach()
    assert torch.allclose(out[vocab.code_id(2)], old_out[covered[2]].mean(0), atol=1e-5)


def test_codebook_init_needs_codes_and_a_known_init():
    tokenizer = build_word_tokenizer(TEXTS)
    model = tiny_model("llama", len(tokenizer))
    vocab = extend_tokenizer(tokenizer, 4)
    with pytest.raises(ConfigError, match="needs the VQ-VAE"):
        add_latent_embeddings(model, vocab, "codebook")
    with pytest.raises(ConfigError, match="no code occurs"):
        add_latent_embeddings(model, vocab, "codebook", torch.zeros(4, 3), [[], [], [], []])
    with pytest.raises(ConfigError, match="unknown model.latent_init"):
        add_latent_embeddings(model, vocab, "random")
    saved = replace(vocab, new_ids=())  # a model saved with its latent rows: codebook would silently do nothing
    with pytest.raises(ConfigError, match="already has its latent-token rows"):
        add_latent_embeddings(model, saved, "codebook", torch.zeros(4, 3), [[1], [], [], []])
    add_latent_embeddings(model, saved, "mean")  # keeps them
