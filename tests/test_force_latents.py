"""Latent blocks at generation. `eval.force_latents=k`: generation opens with <boLatent>, k codes the model picks,
<eoLatent>; k = 0 bans latents. `eval.code_choice=pooled`: the codes compete for the next token as one."""

import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from token_assorted.data import load_records, sequence_text
from token_assorted.data.dataset import encode_record
from token_assorted.data.tokenizer import build_word_tokenizer
from token_assorted.errors import ConfigError
from token_assorted.evaluation.generation import Decoding, generate
from token_assorted.evaluation.pooled_codes import PooledCodes
from token_assorted.latent import extend_tokenizer

K = 8


@pytest.fixture(scope="module")
def setup(reference_dir):
    records = load_records(reference_dir / "prosqa_valid.json")[:6]
    tokenizer = build_word_tokenizer(sequence_text(r) for r in records)
    vocab = extend_tokenizer(tokenizer, K)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
        intermediate_size=64, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # make the untrained model fond of latent tokens, so banning them is a real test
        model.lm_head.weight[vocab.ids] *= 40
    prompts = [encode_record(tokenizer, r)["prompt_ids"] for r in records]
    return model, tokenizer, vocab, prompts


def run(setup, **options):
    model, tokenizer, _, prompts = setup
    return generate(model, tokenizer, prompts, max_new_tokens=12, batch_size=4, progress=False, **options)


@pytest.mark.parametrize("decoding", [Decoding(), Decoding(top_k=5, samples=2)], ids=["greedy", "top-k"])
def test_a_block_of_k_codes_opens_every_generation(setup, decoding):
    vocab = setup[2]
    codes = set(range(vocab.first_code_id, vocab.first_code_id + K))
    for k in (1, 3):
        for samples in run(setup, force_latents=k, decoding=decoding):
            assert len(samples) == decoding.samples
            for ids in samples:
                assert ids[0] == vocab.begin_id and set(ids[1 : k + 1]) <= codes and ids[k + 1] == vocab.end_id


def test_zero_bans_latent_tokens_and_none_leaves_generation_free(setup):
    latent = set(setup[2].ids)
    free = [ids for samples in run(setup) for ids in samples]
    assert any(latent & set(ids) for ids in free)  # left alone, this model writes latent tokens
    banned = [ids for samples in run(setup, force_latents=0) for ids in samples]
    assert not any(latent & set(ids) for ids in banned)


def test_forced_generation_is_batched_like_one_by_one(setup):
    model, tokenizer, _, prompts = setup
    batched = run(setup, force_latents=2)
    alone = [generate(model, tokenizer, [p], max_new_tokens=12, progress=False, force_latents=2)[0] for p in prompts]
    assert batched == alone


def test_a_negative_k_is_a_config_error(setup):
    with pytest.raises(ConfigError, match="force_latents"):
        run(setup, force_latents=-1)


def test_pooled_codes_go_on_when_the_codes_together_outweigh_every_other_token(setup):
    vocab = setup[2]
    first, vocab_size = vocab.first_code_id, vocab.end_id + 1
    probs = torch.full((3, vocab_size), 1e-4)
    probs[:, vocab.end_id] = 0.3
    probs[[0, 2], first : first + K] = 0.6 / K  # together 0.6, each far below 0.3
    probs[[0, 2], first + 5] += 0.01  # the likeliest code
    probs[1, first : first + K] = 0.2 / K  # together below 0.3
    scores = probs.log()
    assert scores.argmax(-1).tolist() == [vocab.end_id] * 3  # token by token: close the block
    # rows 0 and 1 are inside a latent block; row 2 closed its block (and codes are no choice there)
    bo, eo = vocab.begin_id, vocab.end_id
    input_ids = torch.tensor([[9, bo, first], [9, 9, bo], [bo, first, eo]])
    pooled = PooledCodes(vocab)(input_ids, scores.clone())
    assert pooled.argmax(-1).tolist() == [first + 5, vocab.end_id, vocab.end_id]
    assert torch.allclose(pooled[:2, first : first + K].logsumexp(-1), scores[:2, first : first + K].logsumexp(-1))
    assert (pooled[0, first : first + K] == float("-inf")).sum() == K - 1  # all of it on one code
    others = [i for i in range(vocab_size) if not first <= i < first + K]
    assert torch.equal(pooled[:, others], scores[:, others]) and torch.equal(pooled[2], scores[2])
    # sampling: the code the block goes on with is drawn among the top-k codes, and takes the pooled score
    drawn = set()
    for seed in range(20):
        torch.manual_seed(seed)
        sampled = PooledCodes(vocab, top_k=3)(input_ids, scores.clone())
        code = int(sampled[0].argmax()) if sampled[0].argmax() != vocab.end_id else None
        assert code is not None and torch.isclose(sampled[0, code], pooled[0, first + 5])
        drawn.add(code)
    top3 = set((scores[0, first : first + K].topk(3).indices + first).tolist())
    assert first + 5 in drawn and len(drawn) > 1 and drawn <= top3


def test_pooled_generation_writes_longer_latent_blocks_and_is_batched_like_one_by_one(setup):
    model, tokenizer, vocab, prompts = setup
    codes = list(range(vocab.first_code_id, vocab.first_code_id + K))
    hesitant = copy.deepcopy(model)
    with torch.no_grad():  # every code a little less likely than <eoLatent>, all of them together far more
        row = hesitant.lm_head.weight[codes].mean(0)
        hesitant.lm_head.weight[vocab.end_id] = row
        # each a little apart from the next: exact ties would leave the pick to rounding, batched or not
        hesitant.lm_head.weight[codes] = (0.95 + 0.005 * torch.arange(K, dtype=row.dtype))[:, None] * row
    generations = {
        choice: generate(hesitant, tokenizer, prompts, max_new_tokens=12, batch_size=4, progress=False,
                         code_choice=choice)
        for choice in ("token", "pooled")
    }
    written = {choice: sum(i in codes for [ids] in runs for i in ids) for choice, runs in generations.items()}
    assert written["pooled"] > written["token"]
    alone = [generate(hesitant, tokenizer, [p], max_new_tokens=12, progress=False, code_choice="pooled")[0]
             for p in prompts]
    assert generations["pooled"] == alone
    sample = lambda choice: generate(hesitant, tokenizer, prompts, max_new_tokens=12, progress=False,
                                     decoding=Decoding(top_k=5, samples=2), code_choice=choice)
    sampled = {choice: sample(choice) for choice in ("token", "pooled")}
    written = {choice: sum(i in codes for runs in sampled[choice] for ids in runs for i in ids) for choice in sampled}
    assert written["pooled"] > written["token"]  # top-k no longer cuts going on down to a few codes
    assert sample("pooled") == sampled["pooled"]  # seeded


@pytest.mark.parametrize("decoding", [Decoding(), Decoding(top_k=5, samples=2)], ids=["greedy", "top-k"])
def test_pooled_codes_keep_to_a_forced_block(setup, decoding):
    vocab = setup[2]
    codes = set(range(vocab.first_code_id, vocab.first_code_id + K))
    for samples in run(setup, force_latents=3, decoding=decoding, code_choice="pooled"):
        for ids in samples:
            assert ids[0] == vocab.begin_id and set(ids[1:4]) <= codes and ids[4] == vocab.end_id
    banned = [ids for samples in run(setup, force_latents=0, decoding=decoding, code_choice="pooled")
              for ids in samples]
    assert not any(set(vocab.ids) & set(ids) for ids in banned)


def test_an_unknown_code_choice_is_a_config_error(setup):
    with pytest.raises(ConfigError, match="code_choice"):
        run(setup, code_choice="beam")
