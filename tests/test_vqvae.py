"""The VQ-VAE: shapes, training, the encode/decode round trip, the code cache and its staleness checks."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from token_assorted import config  # noqa: F401  (registers the config schema)
from token_assorted.data.dataset import encode_records
from token_assorted.data.format import sequence_text
from token_assorted.records import load_records, write_records
from token_assorted.data.tokenizer import build_word_tokenizer, save_tokenizer
from token_assorted.errors import ConfigError, DataError, StaleInputError
from token_assorted.io import sha256, write_meta
from token_assorted.vqvae.checkpoint import load_vqvae
from token_assorted.vqvae.codes import load_codes
from token_assorted.vqvae.model import VQVAE
from token_assorted.vqvae import codes as code_cache
from token_assorted.vqvae.chunks import IGNORE, collate

REPO = Path(__file__).resolve().parents[1]
TINY = dict(dim=32, heads=2, prompt_layers=1, encoder_layers=1, decoder_layers=1)
# A small run of the real entry point: L = 8, r = 4 (2 codes per chunk), K = 16; 300 steps on 30 records.
RUN_OVERRIDES = [
    "vqvae.chunk_size=8", "vqvae.compression=4", "vqvae.codebook_size=16", "vqvae.dim=64", "vqvae.heads=4",
    "vqvae.prompt_layers=1", "vqvae.encoder_layers=1", "vqvae.decoder_layers=1", "vqvae.continuous_steps=20",
    "vqvae.train.epochs=60", "vqvae.train.batch_size=6", "vqvae.train.lr=3e-3", "trainer.log_every_n_steps=5",
    "trainer.precision=32-true",
]


@pytest.fixture(autouse=True)
def one_thread():
    """Small models run fastest on one thread, above all on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def records(reference_dir) -> list[dict]:
    return load_records(reference_dir / "prosqa_valid.json")


@pytest.fixture(scope="module")
def tokenizer(records):
    return build_word_tokenizer(sequence_text(r) for r in records)


@pytest.fixture(scope="module")
def rows(records, tokenizer) -> list[tuple[list[int], list[int]]]:
    dataset = encode_records(tokenizer, records[:30])
    return list(zip(dataset["prompt_ids"], dataset["reasoning_ids"]))


def tiny_model(tokenizer, **settings) -> VQVAE:
    torch.manual_seed(0)
    options = dict(chunk_size=8, compression=4, codebook_size=16, fsq_levels=[4, 4], **TINY) | settings
    return VQVAE(vocab_size=len(tokenizer), pad_id=tokenizer.pad_token_id, eos_id=tokenizer.eos_token_id, **options)


def batch_of(model: VQVAE, rows):
    return collate(rows, chunk_size=model.chunk_size, pad_id=model.pad_id, eos_id=model.eos_id)


def test_batches_pad_the_last_chunk_and_mark_the_trace_end(tokenizer, rows):
    batch = collate(rows[:4], chunk_size=8, pad_id=tokenizer.pad_token_id, eos_id=tokenizer.eos_token_id)
    for i, (prompt, trace) in enumerate(rows[:4]):
        chunks = math.ceil(len(trace) / 8)
        assert batch.chunk_mask[i].sum() == chunks
        assert batch.trace_ids[i, : len(trace)].tolist() == trace
        assert (batch.trace_ids[i, len(trace) :] == tokenizer.pad_token_id).all()
        assert batch.prompt_ids[i, : len(prompt)].tolist() == prompt and batch.prompt_mask[i].sum() == len(prompt)
        scored = batch.targets[i][batch.targets[i] != IGNORE].tolist()
        assert scored == trace + ([tokenizer.eos_token_id] if len(trace) % 8 else [])


def test_encoder_quantizer_and_decoder_output_shapes(tokenizer, rows):
    model = tiny_model(tokenizer)
    batch = batch_of(model, rows[:5])
    b, n, vectors = len(batch), batch.chunk_mask.shape[1], 8 // 4
    prompt_states = model.encode_prompt(batch.prompt_ids, batch.prompt_mask)
    assert prompt_states.shape == (b, batch.prompt_ids.shape[1], 32)
    latents = model.encode(prompt_states, batch.prompt_mask, batch.trace_ids, batch.trace_mask, batch.chunk_mask)
    assert latents.shape == (b, n * vectors, 32)
    quantized, codes, loss = model.quantize(latents, batch.chunk_mask)
    assert quantized.shape == latents.shape and codes.shape == (b, n * vectors, 1) and loss.ndim == 0
    log_probs = model.decode(batch.prompt_ids, prompt_states, batch.prompt_mask, quantized, batch.trace_ids)
    assert log_probs.shape == (b, n * 8, len(tokenizer))


def test_the_decoder_mixes_writing_from_the_vocabulary_with_copying_from_the_prompt(tokenizer, rows):
    model = tiny_model(tokenizer).eval()
    batch = batch_of(model, rows[:3])
    with torch.no_grad():
        assert torch.allclose(model(batch).log_probs.exp().sum(-1), torch.ones(1), atol=1e-5)  # one distribution
        model.copy_gate.bias.fill_(-100.0)  # the gate all on copying
        probs = model(batch).log_probs.exp()
    for row in range(len(batch)):
        in_prompt = torch.zeros(len(tokenizer), dtype=torch.bool)
        in_prompt[batch.prompt_ids[row][batch.prompt_mask[row]]] = True
        assert probs[row][:, in_prompt].sum(-1).min() > 0.999  # only words of this record's own prompt
        assert probs[row][:, ~in_prompt].max() < 1e-6


def test_a_chunk_is_encoded_from_the_prompt_and_earlier_chunks_only(tokenizer, rows):
    model = tiny_model(tokenizer).eval()
    prompt, trace = rows[0]
    changed = trace[:8] + [3 + (t - 2) % (len(tokenizer) - 3) for t in trace[8:]]  # other words after chunk 0
    assert changed[8:] != trace[8:]
    batch = batch_of(model, [(prompt, trace), (prompt, changed)])
    states = model.encode_prompt(batch.prompt_ids, batch.prompt_mask)
    latents = model.encode(states, batch.prompt_mask, batch.trace_ids, batch.trace_mask, batch.chunk_mask)
    assert torch.allclose(latents[0, :2], latents[1, :2], atol=1e-5)  # chunk 0 cannot see chunk 1
    assert not torch.allclose(latents[0, 2:4], latents[1, 2:4])


@pytest.mark.parametrize("context", ["trace", "chunk"])
def test_an_encoder_without_the_prompt_reads_the_trace_before_the_chunk_or_the_chunk_alone(tokenizer, rows, context):
    model = tiny_model(tokenizer, encoder_context=context).eval()
    (prompt, trace), (other_prompt, _) = rows[0], rows[1]
    other_chunk_0 = [3 + (t - 2) % (len(tokenizer) - 3) for t in trace[:8]]
    assert other_prompt != prompt and other_chunk_0 != trace[:8]
    batch = batch_of(model, [(prompt, trace), (other_prompt, trace), (prompt, other_chunk_0 + trace[8:])])
    states = model.encode_prompt(batch.prompt_ids, batch.prompt_mask)
    latents = model.encode(states, batch.prompt_mask, batch.trace_ids, batch.trace_mask, batch.chunk_mask)
    assert torch.allclose(latents[0], latents[1], atol=1e-5)  # the prompt is not read
    assert not torch.allclose(latents[0, :2], latents[2, :2])
    chunk_1_alike = torch.allclose(latents[0, 2:4], latents[2, 2:4], atol=1e-5)
    assert chunk_1_alike == (context == "chunk")  # chunk 0 read by chunk 1's codes, or not
    with pytest.raises(ConfigError, match="vqvae.encoder_context"):
        tiny_model(tokenizer, encoder_context="text")


def test_the_decoder_predicts_each_token_from_the_codes_and_earlier_tokens_only(tokenizer, rows):
    model = tiny_model(tokenizer).eval()
    prompt, trace = rows[0]
    cut = 11  # inside chunk 1
    changed = trace[:cut] + [3 + (t - 2) % (len(tokenizer) - 3) for t in trace[cut:]]
    batch = batch_of(model, [(prompt, trace), (prompt, changed)])
    with torch.no_grad():
        states = model.encode_prompt(batch.prompt_ids, batch.prompt_mask)
        quantized = torch.randn(1, batch.chunk_mask.shape[1] * 2, 32).expand(2, -1, -1)  # the same codes for both
        log_probs = model.decode(batch.prompt_ids, states, batch.prompt_mask, quantized, batch.trace_ids)
    assert torch.allclose(log_probs[0, : cut + 1], log_probs[1, : cut + 1], atol=1e-5)  # token `cut` is not read
    assert not torch.allclose(log_probs[0, cut + 1], log_probs[1, cut + 1])


@pytest.mark.parametrize("kind", ["vq", "fsq", "rvq"])
def test_each_quantizer_builds_trains_and_looks_codes_up(tokenizer, rows, kind):
    model = tiny_model(tokenizer, quantizer=kind)
    batch = batch_of(model, rows[:6])
    out = model(batch)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert model.codebook().shape == (16, 32)
    levels = 2 if kind == "rvq" else 1
    assert model.codes_per_chunk == 2 * levels
    model.eval()
    codes = model.encode_codes(batch)
    for row, (_, trace) in zip(codes, rows[:6]):
        assert len(row) == math.ceil(len(trace) / 8) * model.codes_per_chunk
        assert all(0 <= c < 16 for c in row)
    # the vectors looked up from the codes are the ones the decoder was given
    states = model.encode_prompt(batch.prompt_ids, batch.prompt_mask)
    latents = model.encode(states, batch.prompt_mask, batch.trace_ids, batch.trace_mask, batch.chunk_mask)
    quantized, _, _ = model.quantize(latents, batch.chunk_mask)
    first = torch.tensor([codes[0][: 2 * levels]])
    assert torch.allclose(model.codes_to_vectors(first)[0], quantized[0, :2], atol=1e-5)


def test_fsq_levels_must_give_the_codebook_size(tokenizer):
    from token_assorted.errors import ConfigError

    with pytest.raises(ConfigError, match="product"):
        tiny_model(tokenizer, quantizer="fsq", fsq_levels=[4, 8])


def test_prontoqa_takes_two_codes_per_chunk_unless_a_preset_or_override_says_otherwise(config):
    prontoqa = config("task=prontoqa").vqvae
    assert (prontoqa.chunk_size, prontoqa.compression) == (8, 4)
    assert config("task=prosqa").vqvae.compression == 8
    assert config("task=prontoqa", "preset=paper").vqvae.compression == 16  # a preset comes after the task
    assert config("task=prontoqa", "vqvae.compression=8").vqvae.compression == 8


def test_loss_falls_when_overfitting_a_few_records(tokenizer, rows):
    model = tiny_model(tokenizer)
    batch = batch_of(model, rows[:8])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = model(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("continuous_steps, switch", [(3, 3), (100, 4)])  # 100: capped at a quarter of 16 steps
def test_the_bottleneck_opens_after_the_continuous_steps_and_k_means_builds_the_codebook_then(
    tokenizer, rows, continuous_steps, switch
):
    import lightning as L

    from token_assorted.vqvae.chunks import loader
    from token_assorted.vqvae.module import VQVAEModule

    model = tiny_model(tokenizer)
    seen = []  # per training step: (quantized?, codebook built before the step?)
    forward = model.forward

    def recording(batch, quantize=True):
        seen.append((quantize, bool(model.codebook().abs().sum() > 0)))
        return forward(batch, quantize)

    model.forward = recording
    from token_assorted.config import OptimConfig

    optim = OptimConfig(lr=1e-3, weight_decay=0.0, warmup_ratio=0.0, schedule="cosine", final_lr_ratio=0.1)
    module = VQVAEModule(model, optim, continuous_steps=continuous_steps)
    trainer = L.Trainer(
        max_steps=16, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )
    batches = loader(rows, batch_size=4, chunk_size=8, pad_id=model.pad_id, eos_id=model.eos_id, seed=0, window=50)
    trainer.fit(module, batches)
    assert [quantized for quantized, _ in seen] == [False] * switch + [True] * (16 - switch)
    assert [built for _, built in seen] == [False] * (switch + 1) + [True] * (16 - switch - 1)


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
@pytest.mark.parametrize("floor", [0.0, 0.1])
def test_the_shared_schedule_warms_up_then_decays_to_the_floor(schedule, floor):
    from token_assorted.schedule import lr_factor

    # 20 warmup steps, then 80 of decay: a quarter of the way down at step 40, half at step 60
    rates = [lr_factor(step, total=100, warmup_ratio=0.2, schedule=schedule, floor=floor) for step in range(151)]
    assert rates[:21] == pytest.approx([(step + 1) / 20 for step in range(20)] + [1.0])
    assert all(later <= earlier for earlier, later in zip(rates[20:], rates[21:]))
    quarter = 0.5 * (1 + math.cos(math.pi / 4)) if schedule == "cosine" else 0.75
    assert rates[40] == pytest.approx(floor + (1 - floor) * quarter)
    assert rates[60] == pytest.approx(floor + (1 - floor) * 0.5)
    assert rates[100:] == pytest.approx([floor] * 51)  # and there it stays


def test_the_shared_schedule_rounds_the_warmup_steps():
    from token_assorted.schedule import lr_factor

    # 0.037 * 100 = 3.7: 4 warmup steps
    rates = [lr_factor(step, total=100, warmup_ratio=0.037, schedule="linear", floor=0.0) for step in range(5)]
    assert rates == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])


def test_decode_rejects_a_code_sequence_of_the_wrong_shape(tokenizer, rows):
    model = tiny_model(tokenizer).eval()
    with pytest.raises(DataError, match="multiple of 2"):
        model.decode_text(tokenizer, rows[0][0], [1, 2, 3])
    with pytest.raises(DataError, match=r"\[0, 16\)"):
        model.decode_text(tokenizer, rows[0][0], [1, 99])


# The real entry point on a small task directory: training, the cache, staleness.


def compose(data_dir: Path, out_dir: Path, *overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
        return hydra_compose(
            "config",
            overrides=["task=prosqa", f"data.dir={data_dir}", f"out_dir={out_dir}", *RUN_OVERRIDES, *overrides],
        )


def write_task(directory: Path, splits: dict[str, list[dict]]) -> None:
    for split, items in splits.items():
        write_records(directory / f"{split}.json", items)
    write_meta(directory, config={"test": True}, seed=0, inputs={s: sha256(directory / f"{s}.json") for s in splits})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, records):
    """A task directory with 30 train records and a VQ-VAE trained on it by `train_vqvae.run` (valid: 10 of them)."""
    from token_assorted import train_vqvae

    root = tmp_path_factory.mktemp("vqvae")
    write_task(root / "data" / "prosqa", {"train": records[:30], "valid": records[:10], "test": records[30:40]})
    cfg = compose(root / "data", root / "out")
    metrics = train_vqvae.run(cfg, progress=False)
    return root, cfg, metrics


def test_training_writes_model_meta_metrics_and_code_caches(trained):
    root, cfg, metrics = trained
    run = root / "out" / "vqvae" / "prosqa"
    for name in ("model/config.json", "model/model.safetensors", "meta.json", "metrics.json"):
        assert (run / name).exists(), name
    for split in ("train", "valid", "test"):
        assert (run / "codes" / f"{split}.json").exists(), split
    meta = json.loads((run / "meta.json").read_text())
    assert (meta["chunk_size"], meta["compression"], meta["codebook_size"]) == (8, 4, 16)
    # a run too short for vqvae.continuous_steps switches the bottleneck on a quarter of the way, and says so
    assert metrics["continuous_steps"] == min(cfg.vqvae.continuous_steps, metrics["steps"] // 4)
    assert set(meta["inputs"]) == {"tokenizer", "train"} and meta["config"]["codebook_size"] == 16
    written = json.loads((run / "metrics.json").read_text())
    for key in (
        "recon_token_acc", "recon_chunk_exact", "codebook_usage", "codebook_perplexity", "dead_codes",
        "code_informativeness",
    ):
        assert key in written
    assert 0 <= written["codebook_usage"] <= 1 and written["dead_codes"] == 16 - round(written["codebook_usage"] * 16)
    assert list((run / "checkpoints").glob("*.ckpt")) and list((run / "logs").rglob("metrics.csv"))


@pytest.mark.parametrize(
    "overrides, schedule, floor",
    [
        ((), "cosine", 0.1),  # the default
        (("vqvae.train.schedule=linear", "vqvae.train.final_lr_ratio=0.3"), "linear", 0.3),
    ],
)
def test_the_vqvae_learning_rate_follows_its_schedule_and_final_lr_ratio(
    tmp_path, records, tokenizer, rows, overrides, schedule, floor
):
    from token_assorted import train_vqvae

    write_task(tmp_path / "data" / "prosqa", {"train": records[:30]})
    cfg = compose(
        tmp_path / "data", tmp_path / "out", "vqvae.train.max_steps=20", "vqvae.train.warmup_ratio=0.1", *overrides
    )
    assert (cfg.vqvae.train.schedule, cfg.vqvae.train.final_lr_ratio) == (schedule, floor)
    splits, made = {"train": rows, "valid": rows[:6]}, train_vqvae.identity(cfg, tokenizer)
    module, _ = train_vqvae.train(cfg, tokenizer, splits, made, progress=False)
    scheduler = module.trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.get_last_lr()[0] == pytest.approx(cfg.vqvae.train.lr * floor)  # after the last of 20 steps
    rates = [scheduler.lr_lambdas[0](step) for step in range(21)]
    assert rates[:2] == pytest.approx([0.5, 1.0])  # 2 warmup steps, then 18 of decay
    if schedule == "cosine":  # as the VQ-VAE trained before it read vqvae.train.schedule: to a tenth of the peak
        decay = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / 18)) for step in range(19)]
    else:
        decay = [floor + (1 - floor) * (1 - step / 18) for step in range(19)]
    assert rates[2:] == pytest.approx(decay)


def test_round_trip_gives_back_most_chunks(trained, records):
    """300 steps on 30 records: decoding each record's codes writes its trace back, for most chunks."""
    root, cfg, metrics = trained
    from token_assorted.data import get_tokenizer, load_dataset

    tokenizer = get_tokenizer(cfg, progress=False)
    vqvae = load_vqvae(cfg)
    dataset = load_dataset(cfg, "train", tokenizer)
    codes = load_codes(cfg, "train")
    written = vqvae.decode_ids(dataset["prompt_ids"], codes)
    right = total = 0
    for ids, trace in zip(written, dataset["reasoning_ids"]):
        for start in range(0, len(trace), 8):
            total += 1
            right += ids[start : start + 8] == trace[start : start + 8]
    assert right / total > 0.8, f"{right} of {total} chunks written back"
    whole = [i for i, (ids, trace) in enumerate(zip(written, dataset["reasoning_ids"])) if ids == trace]
    assert whole, "no trace written back whole"
    row = dataset[whole[0]]
    assert vqvae.decode_text(tokenizer, row["prompt_ids"], codes[whole[0]]) == tokenizer.decode(row["reasoning_ids"])
    assert metrics["recon_chunk_exact"] > 0.8 and metrics["code_informativeness"] > 0.05


def test_load_codes_is_aligned_with_the_split(trained):
    root, cfg, _ = trained
    from token_assorted.data import get_tokenizer, load_dataset

    vqvae = load_vqvae(cfg)
    assert (vqvae.chunk_size, vqvae.compression, vqvae.codebook_size) == (8, 4, 16) and not vqvae.training
    assert vqvae.codebook().shape == (16, 64)
    dataset = load_dataset(cfg, "test", get_tokenizer(cfg, progress=False))
    codes = load_codes(cfg, "test")
    assert len(codes) == len(dataset)
    assert [len(c) for c in codes] == [math.ceil(len(r) / 8) * 2 for r in dataset["reasoning_ids"]]


def test_codes_are_encoded_on_the_device_the_trainer_config_names(trained, monkeypatch):
    # a GPU machine told trainer.accelerator=cpu encodes on the CPU; this CPU build of torch cannot move to cuda
    root, cfg, _ = trained
    from token_assorted.data import get_tokenizer

    tokenizer = get_tokenizer(cfg, progress=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    on_cpu = compose(root / "data", root / "out", "trainer.accelerator=cpu")
    assert code_cache.encode_split(on_cpu, load_vqvae(on_cpu), "test", tokenizer) == load_codes(cfg, "test")
    with pytest.raises((AssertionError, RuntimeError), match="CUDA"):
        code_cache.encode_split(cfg, load_vqvae(cfg), "test", tokenizer)  # accelerator=auto: the GPU


def test_codes_are_encoded_under_the_precision_the_vqvae_trained_with(trained, tmp_path, monkeypatch):
    # encoding under another autocast than training's could give other codes than the fine-tune's were
    root, cfg = copy_run(trained, tmp_path)
    from token_assorted import train_vqvae
    from token_assorted.data import get_tokenizer

    meta_file = root / "out" / "vqvae" / "prosqa" / "meta.json"
    meta = json.loads(meta_file.read_text())
    assert meta["precision"] == cfg.trainer.precision and meta["seed"] == cfg.seed
    assert train_vqvae.is_current(cfg)
    assert not train_vqvae.is_current(compose(root / "data", root / "out", "seed=1"))  # this run would make another
    assert not train_vqvae.is_current(compose(root / "data", root / "out", "trainer.limit_train_batches=2"))
    assert not train_vqvae.is_current(compose(root / "data", root / "out", "trainer.precision=bf16-true"))
    meta_file.write_text(json.dumps({key: value for key, value in meta.items() if key != "identity"}))
    assert not train_vqvae.is_current(cfg)  # recorded before stages recorded their identity: made again
    meta_file.write_text(json.dumps({**meta, "precision": "bf16-mixed"}))
    used = []
    monkeypatch.setattr(code_cache, "encode_rows", lambda *a, precision, **k: used.append(precision) or [])
    code_cache.encode_split(cfg, load_vqvae(cfg), "test", get_tokenizer(cfg, progress=False))
    assert used == ["bf16-mixed"]


def copy_run(trained, tmp_path) -> tuple[Path, object]:
    """A private copy of the trained run and its data, for tests that change them."""
    root, _, _ = trained
    shutil.copytree(root / "data", tmp_path / "data")
    shutil.copytree(root / "out", tmp_path / "out")
    return tmp_path, compose(tmp_path / "data", tmp_path / "out")


def test_cache_is_reused_until_the_data_or_the_checkpoint_changes(trained, tmp_path, monkeypatch, records):
    root, cfg = copy_run(trained, tmp_path)
    encoded = []
    original = code_cache.encode_split
    monkeypatch.setattr(code_cache, "encode_split", lambda *a, **k: encoded.append(a[2]) or original(*a, **k))

    first = load_codes(cfg, "test")
    assert load_codes(cfg, "test") == first and encoded == []  # made by training, reused since

    test = root / "data" / "prosqa" / "test.json"
    write_records(test, records[40:45])  # other records, recorded in meta.json as generate_data would
    meta = json.loads((test.parent / "meta.json").read_text())
    meta["inputs"]["test"] = sha256(test)
    (test.parent / "meta.json").write_text(json.dumps(meta))
    changed = load_codes(cfg, "test")
    assert encoded == ["test"] and len(changed) == 5
    assert load_codes(cfg, "test") == changed and encoded == ["test"]

    model_dir = root / "out" / "vqvae" / "prosqa" / "model"
    vqvae = VQVAE.from_pretrained(model_dir)
    with torch.no_grad():
        vqvae.embed.weight.mul_(1.5)  # another checkpoint
    vqvae.save_pretrained(model_dir)
    load_codes(cfg, "test")
    assert encoded == ["test", "test"]


def test_a_checkpoint_made_with_another_tokenizer_is_refused(trained, tmp_path, records):
    root, _ = copy_run(trained, tmp_path)
    other = build_word_tokenizer(["an entirely different vocabulary\n"] + [sequence_text(r) for r in records[:30]])
    save_tokenizer(other, tmp_path / "other_tokenizer")
    cfg = compose(root / "data", root / "out", f"model.path={tmp_path / 'other_tokenizer'}")
    with pytest.raises(StaleInputError, match="tokenizer checksum .*train_vqvae task=prosqa"):
        load_codes(cfg, "valid")
    with pytest.raises(StaleInputError, match="tokenizer checksum"):
        load_vqvae(cfg)


def test_a_checkpoint_made_from_other_training_data_is_refused(trained, tmp_path, records):
    root, cfg = copy_run(trained, tmp_path)
    task = root / "data" / "prosqa"
    write_task(task, {"train": list(reversed(records[:30])), "valid": records[:10], "test": records[30:40]})
    with pytest.raises(StaleInputError) as err:
        load_codes(cfg, "valid")
    message = str(err.value)
    assert "train checksum" in message and "tokenizer" not in message and "train_vqvae" in message


def test_a_checkpoint_made_with_another_codebook_size_is_refused(trained):
    root, _, _ = trained
    cfg = compose(root / "data", root / "out", "vqvae.codebook_size=32")
    with pytest.raises(StaleInputError, match=r"vqvae.codebook_size=16 \(now 32\)"):
        load_codes(cfg, "valid")


def test_a_setting_added_since_the_checkpoint_was_made_reads_as_its_default(trained, tmp_path):
    root, _, _ = trained
    shutil.copytree(root / "out", tmp_path / "out")
    meta_file = tmp_path / "out" / "vqvae" / "prosqa" / "meta.json"
    meta = json.loads(meta_file.read_text())
    del meta["identity"]["settings"]["vqvae"]["encoder_context"]
    meta_file.write_text(json.dumps(meta))
    assert load_codes(compose(root / "data", tmp_path / "out"), "valid")
    with pytest.raises(StaleInputError, match=r"vqvae.encoder_context=prompt \(now chunk\)"):
        load_codes(compose(root / "data", tmp_path / "out", "vqvae.encoder_context=chunk"), "valid")
    # a VQ-VAE that records no identity (an earlier version's) says so rather than being taken as it is
    del meta["identity"]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(StaleInputError, match=r"records no identity .*train_vqvae task=prosqa"):
        load_codes(compose(root / "data", tmp_path / "out"), "valid")


def test_a_retraining_that_fails_on_its_input_leaves_the_finished_vqvae_usable(trained, tmp_path):
    from token_assorted import train_vqvae

    root, cfg = copy_run(trained, tmp_path)
    with pytest.raises(ConfigError, match="no generated data"):
        train_vqvae.run(compose(root / "no-data", root / "out"), progress=False)
    assert load_codes(cfg, "valid")  # its meta.json is still there


def test_no_checkpoint_says_what_to_run(trained, tmp_path):
    root, _, _ = trained
    cfg = compose(root / "data", tmp_path / "nothing")
    with pytest.raises(StaleInputError, match="no trained VQ-VAE.*train_vqvae task=prosqa"):
        load_vqvae(cfg)


def test_same_seed_gives_identical_codes(tmp_path, records):
    from token_assorted import train_vqvae

    write_task(tmp_path / "data" / "prosqa", {"train": records[:12], "valid": records[:4], "test": records[12:16]})
    runs = []
    for out in ("first", "second"):
        cfg = compose(tmp_path / "data", tmp_path / out, "vqvae.train.epochs=3", "vqvae.continuous_steps=2")
        runs.append(train_vqvae.run(cfg, progress=False))
        runs.append(load_codes(cfg, "train") + load_codes(cfg, "test"))
    first_metrics, first_codes, second_metrics, second_codes = runs
    untimed = [{k: v for k, v in m.items() if "seconds" not in k} for m in (first_metrics, second_metrics)]
    assert first_codes == second_codes and untimed[0] == untimed[1]
    assert len({c for row in first_codes for c in row}) > 1
