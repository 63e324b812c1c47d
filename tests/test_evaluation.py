"""Evaluation: batched generation, token counting, 1-Feasible-k, the evaluate and show commands, reports."""

import io
import json
import random
import shutil
import sys

import pytest
import torch
from conftest import make_config
from omegaconf import OmegaConf
from transformers import LlamaConfig, LlamaForCausalLM

from token_assorted import evaluate, finetune, show
from token_assorted.data import encode_record, load_records, sequence_text, write_records
from token_assorted.data.tokenizer import build_word_tokenizer
from token_assorted.errors import ConfigError, DataError, StaleInputError, remedy, reports_errors
from token_assorted.evaluation.generation import Decoding, generate
from token_assorted.evaluation.harness import evaluate_records
from token_assorted.evaluation.metrics import one_feasible, score_generation, summarize
from token_assorted.evaluation.report import provenance, write_report
from token_assorted.evaluation.results import PREDICTIONS, eval_dir, load_results
from token_assorted.evaluation.tokens import completion_text, count_tokens, latent_blocks, latent_token_ids, trim
from token_assorted.io import sha256
from token_assorted.latent import extend_tokenizer, latent_token, latent_tokens
from token_assorted.tasks import maze, prosqa
from token_assorted.vqvae.model import VQVAE
from token_assorted.vqvae.checkpoint import model_dir

K = 8  # latent codes in the test vocabulary
SUMMARY_KEYS = ("accuracy", "generated_tokens", "latent_tokens", "text_tokens", "seconds_per_solved")



def word_tokenizer(records, latent: bool = True):
    tokenizer = build_word_tokenizer(sequence_text(r) for r in records)
    if latent:
        extend_tokenizer(tokenizer, K)
    return tokenizer


def tiny_llama(tokenizer, seed: int = 0, max_positions: int = 512) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, intermediate_size=64, max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


def tiny_vqvae(tokenizer, seed: int = 0) -> VQVAE:
    torch.manual_seed(seed)
    return VQVAE(vocab_size=len(tokenizer), pad_id=tokenizer.pad_token_id, eos_id=tokenizer.eos_token_id,
                 chunk_size=4, compression=4, codebook_size=K, dim=32, heads=2, prompt_layers=1, encoder_layers=1,
                 decoder_layers=1).eval()


def latent_sequence(tokenizer, record: dict, code: int) -> tuple[list[int], list[int]]:
    """(prompt, continuation): the first step replaced by <boLatent> <latent_code> <eoLatent>."""
    encoded = encode_record(tokenizer, record)
    latent = tokenizer.convert_tokens_to_ids(["<boLatent>", latent_token(code), "<eoLatent>"])
    rest = encoded["reasoning_ids"][encoded["step_lengths"][0]:]
    return encoded["prompt_ids"], latent + rest + encoded["solution_ids"]


def memorise(model, sequences, steps: int = 200):
    """Plain next-token loss on the continuations, full batch, until the model has them by heart."""
    width = max(len(p) + len(c) for p, c in sequences)
    input_ids = torch.zeros((len(sequences), width), dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    labels = torch.full_like(input_ids, -100)
    for row, (prompt, continuation) in enumerate(sequences):
        ids = prompt + continuation
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
        labels[row, len(prompt) : len(ids)] = torch.tensor(continuation)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), loss.item()


@pytest.fixture(scope="module")
def prosqa_records(reference_dir):
    return load_records(reference_dir / "prosqa_valid.json")


@pytest.fixture(scope="module")
def short_records(prosqa_records):
    """ProsQA records whose question keeps only its last 1-3 sentences: prompts of mixed, short lengths."""
    short = []
    for i, record in enumerate(prosqa_records[:24]):
        sentences = record["question"].split(". ")
        short.append({**record, "question": ". ".join(sentences[-(1 + i % 3):])})
    return short


@pytest.fixture(scope="module")
def trained(tmp_path_factory, short_records):
    """A tiny Llama that has memorised the short records, latent block first, saved like a fine-tuned model."""
    tokenizer = word_tokenizer(short_records)
    sequences = [latent_sequence(tokenizer, r, i % K) for i, r in enumerate(short_records)]
    model, loss = memorise(tiny_llama(tokenizer, max_positions=128), sequences)
    assert loss < 0.05
    directory = tmp_path_factory.mktemp("finetune") / "prosqa" / "random-replace"
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    tokens_seen = 200 * sum(len(p) + len(c) for p, c in sequences)
    meta = {"config": {"task": {"name": "prosqa"}}, "seed": 7, "tokens_seen": tokens_seen}
    (directory / "meta.json").write_text(json.dumps(meta))
    test_file = directory.parent.parent / "short.json"
    write_records(test_file, short_records)
    return {"model": model, "tokenizer": tokenizer, "dir": directory, "test_file": test_file, "meta": meta}


def one_by_one(model, tokenizer, prompts, max_new_tokens):
    return [generate(model, tokenizer, [p], max_new_tokens=max_new_tokens, progress=False)[0] for p in prompts]


def test_batched_greedy_matches_one_by_one(trained, short_records, prosqa_records):
    tokenizer = trained["tokenizer"]
    prompts = [encode_record(tokenizer, r)["prompt_ids"] for r in short_records[:9]]
    assert len({len(p) for p in prompts}) >= 3
    batched = generate(trained["model"], tokenizer, prompts, max_new_tokens=40, batch_size=4, progress=False)
    assert batched == one_by_one(trained["model"], tokenizer, prompts, 40)
    assert all(len(samples) == 1 and samples[0][-1] == tokenizer.eos_token_id for samples in batched)

    # an untrained model on full ProsQA questions: prompts of very different lengths, long padding runs
    full_tokenizer = word_tokenizer(prosqa_records, latent=False)
    model = tiny_llama(full_tokenizer, seed=1)
    model.generation_config.do_sample, model.generation_config.temperature = True, 3.0  # must not leak into greedy
    prompts = [encode_record(full_tokenizer, r)["prompt_ids"] for r in prosqa_records[:6]]
    assert max(map(len, prompts)) - min(map(len, prompts)) > 40
    batched = generate(model, full_tokenizer, prompts, max_new_tokens=12, batch_size=6, progress=False)
    assert batched == one_by_one(model, full_tokenizer, prompts, 12)


def test_token_counts_on_a_hand_made_generation(trained):
    tokenizer = trained["tokenizer"]
    latent = "<boLatent><latent_3><latent_5><eoLatent>"
    text = " Every terpus is a brimpus.\n### Tom is a lempus."
    ids = tokenizer(latent + text + "<boLatent><latent_1><eoLatent>", add_special_tokens=False)["input_ids"]
    text_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    padded = ids + [tokenizer.eos_token_id] + [tokenizer.pad_token_id] * 3

    generation = trim(padded, tokenizer.eos_token_id)
    counts = count_tokens(generation, latent_token_ids(tokenizer))
    assert counts.generated == len(ids) + 1  # the EOS was generated too
    assert counts.latent == 7
    assert counts.text == len(text_ids) + 1
    assert completion_text(tokenizer, generation) == latent + text + "<boLatent><latent_1><eoLatent>"
    assert latent_blocks(tokenizer.convert_ids_to_tokens(generation)) == [[3, 5], [1]]
    assert latent_token_ids(tokenizer) == set(tokenizer.convert_tokens_to_ids(latent_tokens(K)))
    assert latent_token_ids(word_tokenizer([{"question": "a", "steps": ["b"], "answer": "c"}], latent=False)) == set()


def test_grounded_steps_count_the_written_sentences_that_are_stated_facts(trained):
    tokenizer, latent_ids = trained["tokenizer"], latent_token_ids(trained["tokenizer"])
    record = {"question": "Every terpus is a brimpus. Tom is a terpus. Is Tom a brimpus or lempus?",
              "steps": ["Tom is a terpus.", "Every terpus is a brimpus."], "answer": "Tom is a brimpus."}

    def grounded(text: str) -> float | None:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        return score_generation(prosqa, tokenizer, record, ids, latent_ids)["grounded_steps"]

    assert grounded("Tom is a terpus.\nEvery terpus is a brimpus.\n### Tom is a brimpus.") == 1.0
    # a rule the question does not hold, however well formed; the sentence after the answer mark is not a step
    assert grounded("Tom is a terpus.\nEvery terpus is a lempus.\n### Tom is a lempus.") == 0.5
    # a sentence the latent block cut counts when it ends a stated one; one that a latent block did not cut must
    # be whole
    assert grounded("<boLatent><latent_3><eoLatent> a brimpus.\n### Tom is a brimpus.") == 1.0
    assert grounded("<boLatent><latent_3><eoLatent> a brimpus.\na brimpus.\n### Tom is a brimpus.") == 0.5
    assert grounded("### Tom is a brimpus.") is None  # no chain written
    assert not hasattr(maze, "facts") and "grounded_steps" not in summarize([{"solved": True}], seconds=1.0)


def test_one_feasible_k_aggregation():
    rng = random.Random(0)
    rows = []
    for index in range(12):
        samples = [{"feasible": rng.random() < 0.15, "generated_tokens": rng.randrange(5, 50)} for _ in range(10)]
        for sample in samples:
            sample["latent_tokens"] = sample["generated_tokens"] // 3
            sample["text_tokens"] = sample["generated_tokens"] - sample["latent_tokens"]
        greedy_feasible = index % 3 == 0
        rows.append({
            "feasible": greedy_feasible, "optimal": greedy_feasible and index % 2 == 0,
            "generated_tokens": 20, "latent_tokens": 2, "text_tokens": 18,
            "samples": samples, "solved": one_feasible(samples),
        })
    expected = sum(any(s["feasible"] for s in row["samples"]) for row in rows)
    assert 0 < expected < len(rows)
    summary = summarize(rows, seconds=2.0, greedy_seconds=0.5)
    assert summary["solved"] == expected and summary["accuracy"] == expected / 12
    assert summary["greedy_feasible"] == 4 / 12 and summary["greedy_optimal"] == 2 / 12
    all_samples = [s for row in rows for s in row["samples"]]
    assert summary["generated_tokens"] == pytest.approx(sum(s["generated_tokens"] for s in all_samples) / 120)
    assert summary["greedy_generated_tokens"] == 20 and summary["samples_per_example"] == 10
    assert summary["seconds_per_solved"] == pytest.approx(2.0 / expected)  # the samples' time alone
    assert summary["examples_per_s"] == 12 / 2.0 and summary["greedy_seconds"] == 0.5
    assert not one_feasible([{"feasible": False}] * 10) and one_feasible([{"feasible": False}, {"feasible": True}])


def test_seeded_sampling_is_deterministic(trained, short_records):
    tokenizer = trained["tokenizer"]
    prompts = [encode_record(tokenizer, r)["prompt_ids"] for r in short_records[:5]]
    model = tiny_llama(tokenizer, seed=3)  # untrained: a flat distribution, so samples differ
    decoding = Decoding(top_k=10, samples=4)

    def draw(seed):
        return generate(model, tokenizer, prompts, max_new_tokens=8, decoding=decoding, seed=seed, progress=False)

    first = draw(seed=0)
    assert all(len(samples) == 4 for samples in first)
    assert first == draw(seed=0)
    assert first != draw(seed=1)
    assert len({tuple(s) for samples in first for s in samples}) > 1


def test_maze_protocol_scores_greedy_and_samples():
    params = maze.Params(rooms=2, room_size=2, doors=1)
    records = maze.generate(params, {"train": 6, "valid": 0, "test": 0}, seed=0, progress=False)["train"]
    tokenizer = word_tokenizer(records, latent=False)
    model = tiny_llama(tokenizer, seed=2)
    options = dict(max_new_tokens=10, batch_size=8, num_samples=3, top_k=5, seed=4, progress=False)
    summary, rows = evaluate_records(model, tokenizer, "maze", records, **options)
    again, rows_again = evaluate_records(model, tokenizer, "maze", records, **options)
    assert rows == rows_again and summary["accuracy"] == again["accuracy"]
    assert all(len(row["samples"]) == 3 and "feasible" in row and "optimal" in row for row in rows)
    assert summary["samples_per_example"] == 3 and summary["n"] == 6

    # a generation that is the right plan counts as feasible and optimal
    record = records[0]
    right = tokenizer("\n### " + record["answer"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    scored = score_generation(maze, tokenizer, record, right, latent_token_ids(tokenizer))
    assert scored["feasible"] and scored["optimal"] and scored["generated_tokens"] == len(right)


def cfg_overrides(cfg) -> list[str]:
    return [f"eval.checkpoint={cfg.eval.checkpoint}", f"data.test_file={cfg.data.test_file}", f"out_dir={cfg.out_dir}",
            "task=prosqa", "mode=random-replace", "eval.batch_size=5"]


def test_evaluate_a_coconut_file(trained, short_records, tmp_path):
    cfg = make_config(
        "task=prosqa", "mode=random-replace", f"eval.checkpoint={trained['dir']}",
        f"data.test_file={trained['test_file']}", f"out_dir={tmp_path}", "eval.batch_size=5",
    )
    results = evaluate.run(cfg, progress=False)
    # another file's evaluation goes to a place of its own, never over the benchmark's
    name = f"{trained['test_file'].parent.name}-short-{trained['dir'].name}"
    directory = tmp_path / "eval-files" / name / "prosqa" / "random-replace"
    assert json.loads((directory / "results.json").read_text()) == results and not (tmp_path / "eval").exists()
    named = evaluate.run(make_config(*cfg_overrides(cfg), "eval.name=mine", "eval.limit=2"), progress=False)
    assert json.loads((tmp_path / "eval-files/mine/prosqa/random-replace/results.json").read_text()) == named
    rows = [json.loads(line) for line in (directory / "predictions.jsonl").read_text().splitlines()]

    assert results["n"] == len(rows) == len(short_records)
    assert results["accuracy"] == 1.0  # the model learnt these records by heart
    assert results["latent_tokens"] == 3.0  # one <boLatent> <latent_i> <eoLatent> block each
    for row, record in zip(rows, short_records):
        assert row["completion"].startswith("<boLatent><latent_")
        assert row["correct"] == (row["completion"].split("#")[-1].strip() == record["answer"])
        assert row["generated_tokens"] == row["latent_tokens"] + row["text_tokens"]
    assert results["generated_tokens"] == pytest.approx(sum(r["generated_tokens"] for r in rows) / len(rows))
    assert results["text_tokens"] == pytest.approx(results["generated_tokens"] - 3.0)
    assert results["parameters"] == sum(p.numel() for p in trained["model"].parameters())
    assert results["training_tokens"] == trained["meta"]["tokens_seen"] and results["seed"] == 7
    assert results["examples_per_s"] > 0 and results["seconds_per_solved"] > 0
    assert results["config"]["eval"]["checkpoint"] == str(trained["dir"]) and results["code_choice"] == "token"
    assert (directory / "meta.json").exists()
    assert load_results(tmp_path) == {}  # the benchmark's results alone: this was another file


def test_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    cfg = make_config("task=prosqa", "mode=cot", f"out_dir={tmp_path}")
    with pytest.raises(ConfigError, match="python -m token_assorted.finetune task=prosqa mode=cot") as caught:
        evaluate.run(cfg, progress=False)
    assert str(tmp_path / "finetune" / "prosqa" / "cot") in str(caught.value)
    with pytest.raises(SystemExit) as exit_:
        reports_errors(evaluate.run)(cfg)
    assert exit_.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_checkpoint_from_other_training_data_is_refused(trained, short_records, tmp_path):
    """The default checkpoint location, and the check that the train split is the one the model learnt."""
    checkpoint = tmp_path / "out" / "finetune" / "prosqa" / "cot"
    shutil.copytree(trained["dir"], checkpoint)
    write_records(tmp_path / "data" / "prosqa" / "train.json", short_records)
    cfg = make_config("task=prosqa", "mode=cot", f"out_dir={tmp_path / 'out'}", f"data.dir={tmp_path / 'data'}",
                      f"data.test_file={trained['test_file']}", "eval.limit=4")
    meta = {**trained["meta"], "config": OmegaConf.to_container(cfg, resolve=True),
            "inputs": {"train": sha256(tmp_path / "data" / "prosqa" / "train.json")}, "identity": finetune.identity(cfg)}
    (checkpoint / "meta.json").write_text(json.dumps(meta))
    results = evaluate.run(cfg, progress=False)
    assert results["n"] == 4 and results["checkpoint"] == str(checkpoint)

    # under settings it was not fine-tuned with, its results would name them: refused, unless named as it is
    other = make_config("task=prosqa", "mode=cot", f"out_dir={tmp_path / 'out'}", f"data.dir={tmp_path / 'data'}",
                        f"data.test_file={trained['test_file']}", "eval.limit=4", "finetune.lr=1e-4",
                        "model.attention=eager")  # how the model computes is no part of what it learnt
    with pytest.raises(ConfigError, match=r"the model at .*/finetune/prosqa/cot was fine-tuned under other settings: "
                                          r"finetune.lr=0.002 \(now 0.0001\); give those to evaluate it, or "
                                          r"eval.checkpoint=.*/cot to evaluate it as it is, or train one under these "
                                          r"with `python -m token_assorted.finetune task=prosqa mode=cot` \(which "
                                          r"replaces it; out_dir=DIR keeps both\)"):
        evaluate.run(other, progress=False)
    other.eval.checkpoint = str(checkpoint)
    assert evaluate.run(other, progress=False)["n"] == 4

    write_records(tmp_path / "data" / "prosqa" / "train.json", short_records[1:])
    with pytest.raises(StaleInputError, match="made from another train"):
        evaluate.run(cfg, progress=False)


def test_checkpoint_of_another_task_is_refused(trained, tmp_path):
    cfg = make_config("task=prontoqa", f"eval.checkpoint={trained['dir']}", f"data.test_file={trained['test_file']}",
                      f"out_dir={tmp_path}")
    with pytest.raises(ConfigError, match="trained on task 'prosqa'"):
        evaluate.run(cfg, progress=False)


def test_show_prints_the_generation_and_decoded_latents(trained, short_records, monkeypatch, capsys):
    decoded_calls = []

    class FakeVQVAE:
        def decode_text(self, tokenizer, prompt_ids, codes):
            decoded_calls.append((list(prompt_ids), list(codes)))
            return f"decoded {codes}"

    monkeypatch.setattr(show, "find_vqvae", lambda cfg: FakeVQVAE())
    monkeypatch.setattr(show, "trained_precision", lambda cfg: "32-true")  # no VQ-VAE folder to read it from
    real_reference_chunks = show.reference_chunks
    monkeypatch.setattr(show, "reference_chunks", lambda vqvae, tokenizer, record, precision: [])
    cfg = make_config("task=prosqa", f"eval.checkpoint={trained['dir']}", f"data.test_file={trained['test_file']}",
                      "eval.example=5")
    shown = show.run(cfg)
    printed = capsys.readouterr().out
    record = short_records[5]
    assert shown["latent_blocks"] == [[5 % K]] and shown["correct"]
    assert decoded_calls == [(encode_record(trained["tokenizer"], record)["prompt_ids"], [5 % K])]
    assert record["question"] in printed and shown["completion"] in printed and f"decoded [{5 % K}]" in printed
    assert "correct: yes" in printed  # not "correct True", which reads as the answer on a True/False task

    # an (untrained) VQ-VAE of the real kind takes the same call, and shows what it makes of the expected trace:
    # each chunk of L tokens, its codes, and their decoding
    vqvae = tiny_vqvae(trained["tokenizer"])
    monkeypatch.setattr(show, "find_vqvae", lambda cfg: vqvae)
    monkeypatch.setattr(show, "reference_chunks", real_reference_chunks)
    shown = show.run(cfg)
    printed = capsys.readouterr().out
    assert len(shown["decoded"]) == 1 and not shown["decoded"][0].startswith("(cannot decode")
    assert f"decodes to: {shown['decoded'][0]!r}" in printed
    chunks = show.reference_chunks(vqvae, trained["tokenizer"], record, "32-true")
    trace = encode_record(trained["tokenizer"], record)["reasoning_ids"]
    assert "".join(text for text, _, _ in chunks) == trained["tokenizer"].decode(trace)
    assert [len(codes) for _, codes, _ in chunks] == [vqvae.codes_per_chunk] * -(-len(trace) // vqvae.chunk_size)
    assert all(f"{text!r} {''.join(f'<latent_{c}>' for c in codes)} " in printed for text, codes, _ in chunks)

    with pytest.raises(ConfigError, match="out of range"):
        show.run(make_config("task=prosqa", f"eval.checkpoint={trained['dir']}",
                             f"data.test_file={trained['test_file']}", "eval.example=24"))

    # a question of one's own: the same question asked in words gets the same generation, unscored
    asked = make_config("task=prosqa", f"eval.checkpoint={trained['dir']}", f"eval.question={record['question']}")
    own = show.run(asked)
    printed = capsys.readouterr().out
    assert own["completion"] == shown["completion"] and "your question" in printed and "expected:" not in printed
    monkeypatch.setattr(sys, "stdin", io.StringIO(record["question"] + "\n"))  # or from standard input
    piped = show.run(make_config("task=prosqa", f"eval.checkpoint={trained['dir']}", "eval.question=-"))
    assert piped["completion"] == shown["completion"] and record["question"] in capsys.readouterr().out
    with pytest.raises(DataError, match=r"^eval.question, record 0, field 'question': words missing from the "
                                  r"tokenizer's vocabulary: \[' zebra'\]"):
        show.run(make_config("task=prosqa", f"eval.checkpoint={trained['dir']}", "eval.question=Is a zebra a wumpus?"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("  \n"))  # nothing to answer: no answer made up for it
    with pytest.raises(ConfigError, match="^eval.question: the question from standard input is empty"):
        show.run(make_config("task=prosqa", f"eval.checkpoint={trained['dir']}", "eval.question=-"))


def test_show_without_a_vqvae_names_the_command_that_makes_it_for_this_run(tmp_path, monkeypatch, capsys):
    # the run's own overrides (here its out_dir) complete the command, or it would train a VQ-VAE somewhere else
    def missing(cfg):
        raise StaleInputError("no trained VQ-VAE there: run `{command}` first", remedy("train_vqvae", cfg))

    monkeypatch.setattr("token_assorted.vqvae.checkpoint.load_vqvae", missing)
    monkeypatch.setattr("token_assorted.commands.run_overrides", lambda: [f"out_dir={tmp_path}"])
    assert show.find_vqvae(make_config("task=prosqa", f"out_dir={tmp_path}")) is None
    assert capsys.readouterr().out == ("(latent blocks stay undecoded: no trained VQ-VAE there: run `python -m "
                                       f"token_assorted.train_vqvae task=prosqa out_dir={tmp_path}` first)\n")


def test_show_refuses_a_vqvae_other_than_the_one_the_checkpoint_was_trained_with(
    trained, tmp_path, monkeypatch, capsys
):
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(trained["dir"], checkpoint)
    cfg = make_config("task=prosqa", f"eval.checkpoint={checkpoint}", f"data.test_file={trained['test_file']}",
                      "eval.example=5", f"out_dir={tmp_path}")
    directory = model_dir(cfg)

    def load_vqvae(cfg):  # the real one, less its checks against the config and the VQ-VAE's training data
        vqvae = VQVAE.from_pretrained(model_dir(cfg))
        vqvae.checksum = sha256(model_dir(cfg))
        return vqvae

    monkeypatch.setattr("token_assorted.vqvae.checkpoint.load_vqvae", load_vqvae)
    monkeypatch.setattr(show, "trained_precision", lambda cfg: "32-true")  # its meta.json, which this one lacks
    tiny_vqvae(trained["tokenizer"], seed=0).save_pretrained(directory)
    meta = {**trained["meta"], "inputs": {"vqvae": sha256(directory)}}
    (checkpoint / "meta.json").write_text(json.dumps(meta))
    shown = show.run(cfg)  # the VQ-VAE it was trained with decodes its latent block
    assert shown["latent_blocks"] == [[5 % K]] and len(shown["decoded"]) == 1

    tiny_vqvae(trained["tokenizer"], seed=1).save_pretrained(directory)  # a VQ-VAE retrained after the fine-tune
    with pytest.raises(StaleInputError, match="is not the one the checkpoint .* was trained with"):
        show.run(cfg)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        reports_errors(show.run)(cfg)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert str(directory) in error and str(checkpoint) in error and meta["inputs"]["vqvae"][:12] in error


def test_write_report(tmp_path):
    def run(accuracy, tokens, **extra):
        return {"accuracy": accuracy, "generated_tokens": tokens, "latent_tokens": tokens / 4,
                "text_tokens": tokens * 3 / 4, "seconds_per_solved": 0.5, "examples_per_s": 3.0, "n": 100,
                "parameters": 1000, "training_tokens": 5000, "seed": 0, "config": {"large": "left out"}, **extra}

    results = {
        "maze": {"sol-only": run(0.03, 645.0, samples_per_example=10, greedy_feasible=0.01, greedy_optimal=0.0,
                                 cut_share=0.9),
                 "random-replace": run(0.628, 374.6, samples_per_example=10, greedy_feasible=0.4, greedy_optimal=0.3,
                                       vqvae_token_accuracy=0.743)},
        "prosqa": {"sol-only": run(0.767, 8.2, majority_rate=0.51),
                   "cot": run(0.775, 49.4, accuracy_interval=[0.684, 0.844], majority_rate=0.51),
                   "random-replace": run(0.962, 10.9, majority_rate=0.51, vqvae_token_accuracy=0.9912)},
    }
    # the paired test reads each run's predictions: random-replace and cot on the same two items
    for mode, solved in (("cot", [True, False]), ("random-replace", [True, True])):
        path = eval_dir(tmp_path, "prosqa", mode) / PREDICTIONS
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps({"question": q, "solved": s}) + "\n" for q, s in zip("ab", solved)))
    table, paths = write_report(results, tmp_path)
    caption, accuracy, against_caption, against = table.strip().split("\n\n")
    assert caption == "Accuracy % [95 % interval] (mean generated tokens, and the share cut at max_new_tokens if any)."
    lines = accuracy.splitlines()
    assert lines[0] == "| method | maze (1-Feasible-10) | prosqa |"
    assert "| random-replace | 62.8 (374.6) | 96.2 (10.9) |" in lines
    assert "| sol-only | 3.0 (645.0, 90 % cut) | 76.7 (8.2) |" in lines  # cut at max_new_tokens: said so
    assert "| cot | – | 77.5 [68.4, 84.4] (49.4) |" in lines
    assert "| majority answer | – | 51.0 |" in lines
    assert "| VQ-VAE token accuracy | 74.3 | 99.1 |" in lines  # what the codes the latent methods read keep
    assert [line.split("|")[1].strip() for line in lines[2:]] == [
        "sol-only", "random-replace", "cot", "majority answer", "VQ-VAE token accuracy"]
    # the paper's claim task by task: points above cot's accuracy, tokens as a share of cot's (the maze has no cot)
    # and McNemar's test where both runs' predictions are there
    assert against_caption.startswith("Against cot: accuracy in points above cot's (generated tokens as % of cot's;")
    assert against.splitlines() == [
        "| method | prosqa |", "|---|---|", "| sol-only | -0.8 (17 %) |", "| random-replace | +18.7 (22 %) p 1 |",
    ]

    # headed, where the pipeline says so, by the preset, the sizes, and where and when it was made
    for task_runs in results.values():
        for one in task_runs.values():
            one["config"] = {"preset": "default", "task": {"sizes": {"train": 72000}}}
    about = {"commit": "abc1234", "date": "2026-12-07", "machine": "2-core Test CPU", "wall_seconds": 1466}
    headed, _ = write_report(results, tmp_path, about)
    assert headed.splitlines()[0] == ("preset default | maze 72,000 training records, 100 tested; prosqa 72,000 "
                                      "training records, 100 tested | commit abc1234, 2026-12-07, 2-core Test CPU | "
                                      "wall time 1466 s")
    assert headed.splitlines()[0] in paths["table"].read_text()
    made = provenance(12.3)
    assert made["wall_seconds"] == 12 and made["machine"].split("-core ")[0].isdigit() and made["commit"]

    written = json.loads(paths["summary"].read_text())
    assert written["made"] == {"preset": "default", "tasks": {"maze": {"train": 72000, "tested": 100},
                                                               "prosqa": {"train": 72000, "tested": 100}}, **about}
    summary = written["results"]
    assert summary.keys() == results.keys()
    assert {task: set(runs) for task, runs in summary.items()} == {task: set(runs) for task, runs in results.items()}
    for task, runs in summary.items():
        for mode, numbers in runs.items():
            assert set(SUMMARY_KEYS) <= numbers.keys()
            assert numbers["accuracy"] == results[task][mode]["accuracy"] and "config" not in numbers
    assert summary["maze"]["random-replace"]["greedy_optimal"] == 0.3
    assert summary["prosqa"]["random-replace"]["vqvae_token_accuracy"] == 0.9912
    assert summary["prosqa"]["random-replace"]["tokens_vs_cot"] == pytest.approx(10.9 / 49.4)
    assert summary["prosqa"]["random-replace"]["vs_cot"] == {"only_this": 1, "only_cot": 0, "mcnemar_p": 1.0}
    assert "vs_cot" not in summary["prosqa"]["sol-only"]
    assert summary["prosqa"]["cot"]["tokens_vs_cot"] == 1.0 and "tokens_vs_cot" not in summary["maze"]["sol-only"]
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert table in paths["table"].read_text() and "code_choice" not in paths["table"].read_text()
    results["prosqa"]["random-replace"]["code_choice"] = "pooled"  # the report says when codes were pooled
    write_report(results, tmp_path)
    assert "latent codes chosen as one (eval.code_choice=pooled)" in paths["table"].read_text()


def test_the_report_names_the_test_splits_difficulty():
    from token_assorted.evaluation.report import task_title

    runs = {"cot": {"config": {"task": {"params": {"hops": 3, "distractors": True, "set_aside": 1}}}}}
    assert task_title("prontoqa", runs).startswith("prontoqa, 3 hops")
    runs["cot"]["config"]["data"] = {"test_file": "their.json"}  # a loaded test split: nothing known of it
    assert task_title("prontoqa", runs) == "prontoqa"


def test_generation_runs_in_float32_on_a_cpu_whatever_the_training_precision():
    from token_assorted.precision import generation_autocast

    for precision in ("bf16-mixed", "16-mixed", "32"):
        with generation_autocast(torch.device("cpu"), precision):
            assert not torch.is_autocast_enabled("cpu")
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_answers_cut_at_the_token_limit_are_counted_and_marked():
    from token_assorted.evaluation.metrics import summarize
    from token_assorted.evaluation.report import against_cell

    rows = [{"solved": True, "correct": True, "generated_tokens": 8, "latent_tokens": 0, "text_tokens": 8,
             "thought_tokens": 0, "cut": cut} for cut in (True, False, False, False)]
    assert summarize(rows, seconds=1.0)["cut_share"] == 0.25
    # a share of cot's tokens means nothing where both ran to the limit
    runs = {"cot": {"accuracy": 0.5, "generated_tokens": 128, "cut_share": 1.0},
            "random-replace": {"accuracy": 0.5, "generated_tokens": 128, "cut_share": 0.75}}
    assert against_cell(runs, "random-replace") == "+0.0 (100 % both cut)"
    runs["cot"]["cut_share"] = 0.0
    assert against_cell(runs, "random-replace") == "+0.0 (100 %)"
