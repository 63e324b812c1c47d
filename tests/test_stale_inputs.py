"""Atomic outputs and stale inputs: an interrupted write leaves the old file or nothing; a stage refuses inputs
that changed under it (data regenerated, codebook size changed, another run's checkpoint) with a clear message."""

import json

import pytest
from conftest import make_config, write_reference_splits

from token_assorted import finetune, train_vqvae
from token_assorted.records import load_records, write_records
from token_assorted.errors import ConfigError, StaleInputError
from token_assorted.identity import to_resume
from token_assorted.io import atomic_dir, atomic_path, sha256, write_json, write_meta
from token_assorted.resume import LAST, RUN, checkpoint_to_resume
from token_assorted.vqvae import __main__ as vqvae_main, checkpoint as vqvae_checkpoint

VQVAE = [
    "task=prosqa", "mode=random-replace", "vqvae.chunk_size=8", "vqvae.compression=4", "vqvae.codebook_size=16",
    "vqvae.dim=32", "vqvae.heads=2", "vqvae.prompt_layers=1", "vqvae.encoder_layers=1", "vqvae.decoder_layers=1",
    "vqvae.train.batch_size=8", "vqvae.train.max_steps=4", "vqvae.continuous_steps=1",
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "finetune.epochs=1", "finetune.batch_size=8",
]


class Interrupted(Exception):
    pass


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "results.json"
    write_json(path, {"old": True})
    with pytest.raises(Interrupted):
        with atomic_path(path) as tmp:
            tmp.write_text('{"new": tr')  # half written when the run dies
            raise Interrupted
    assert json.loads(path.read_text()) == {"old": True}

    directory = tmp_path / "model"
    with atomic_dir(directory) as tmp:
        (tmp / "weights").write_text("old")
    with pytest.raises(Interrupted):
        with atomic_dir(directory) as tmp:
            (tmp / "weights").write_text("ne")
            raise Interrupted
    assert (directory / "weights").read_text() == "old"
    with pytest.raises(Interrupted):
        with atomic_path(tmp_path / "never.json") as tmp:
            raise Interrupted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "results.json"]  # no temporaries, no never.json


def test_a_checkpoint_is_resumed_only_by_the_run_that_wrote_it(tmp_path, capsys):
    directory = tmp_path / "checkpoints"
    identity = {"settings": {"finetune.lr": 0.001, "seed": 0}, "inputs": {"train": "abc"}}
    assert checkpoint_to_resume(directory, identity) is None  # nothing yet: a fresh run, stamped
    (directory / LAST).write_bytes(b"a checkpoint")
    assert checkpoint_to_resume(directory, identity) == str(directory / LAST)
    capsys.readouterr()
    for changed, named in (
        ({**identity, "settings": {"finetune.lr": 0.002, "seed": 0}}, "finetune.lr=0.001 (now 0.002)"),
        ({**identity, "inputs": {"train": "abd"}}, "finetune.lr=0.002 (now 0.001), train checksum abc (now abd)"),
    ):
        (directory / LAST).write_bytes(b"a checkpoint")
        assert checkpoint_to_resume(directory, changed) is None  # another command or other data: start afresh
        assert not (directory / LAST).exists() and json.loads((directory / RUN).read_text()) == changed
        note = f"note: not resuming from {directory / LAST}, made under other settings ({named})\n"
        assert capsys.readouterr().out == note


def test_a_crashed_run_resumes_under_other_settings_of_how_it_runs_but_not_of_what_it_makes(monkeypatch):
    monkeypatch.setattr(vqvae_checkpoint, "current_inputs", lambda cfg, tokenizer, vocab_size=None: {"train": "abc"})
    # the stages' identities (what reuse compares) with the process layout (what resuming adds to them)
    identities = (lambda cfg: to_resume(finetune.identity(cfg), cfg),
                  lambda cfg: to_resume(train_vqvae.identity(cfg, tokenizer="given"), cfg))
    base = make_config(*VQVAE)
    how = make_config(*VQVAE, "pipeline.workers=1", "eval.batch_size=8", "trainer.checkpoint_every_n_steps=5",
                      "trainer.num_workers=1", "trainer.log_every_n_steps=1")
    for identity in identities:
        assert identity(how) == identity(base)
        # bf16-true is no machine's default precision (bf16-mixed is, on a CPU with AMX)
        for what in ("trainer.limit_train_batches=2", "seed=1", "trainer.devices=2", "trainer.precision=bf16-true"):
            assert identity(make_config(*VQVAE, what)) != identity(base), what
    assert identities[0](make_config(*VQVAE, "finetune.lr=1e-4")) != identities[0](base)
    assert identities[1](make_config(*VQVAE, "vqvae.train.lr=1e-4")) != identities[1](base)


@pytest.fixture
def trained(tmp_path, reference_dir):
    records = load_records(reference_dir / "prosqa_valid.json")
    data = tmp_path / "data" / "prosqa"
    splits = {"train": records[:40], "valid": records[40:48], "test": records[48:56]}
    for split, rows in splits.items():
        write_records(data / f"{split}.json", rows)
    write_meta(data, config={}, seed=0, inputs={s: sha256(data / f"{s}.json") for s in splits})
    overrides = [*VQVAE, f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path / 'out'}"]
    train_vqvae.run(make_config(*overrides), progress=False)
    return tmp_path, overrides, records


def test_a_fine_tune_reads_the_vqvae_vqvae_dir_names_instead_of_its_own(trained, monkeypatch):
    # a sweep's runs share one VQ-VAE instead of copies of it: where it lives is not part of what it is
    root, overrides, _ = trained
    shared = root / "out" / "vqvae" / "prosqa"
    elsewhere = [*overrides, f"out_dir={root / 'sweep'}", f"vqvae.dir={shared}"]
    monkeypatch.setattr(vqvae_checkpoint, "current_inputs", lambda cfg, tokenizer, vocab_size=None: {"train": "abc"})
    assert train_vqvae.identity(make_config(*elsewhere), "given") == train_vqvae.identity(make_config(*overrides),
                                                                                           "given")
    monkeypatch.undo()
    directory = finetune.run(make_config(*elsewhere), progress=False)
    assert directory == root / "sweep" / "finetune" / "prosqa" / "random-replace"
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["inputs"]["vqvae"] == sha256(shared / "model")
    # the one identity: recorded for reuse, stamped on the checkpoints for resuming, and what is current now
    cfg = make_config(*elsewhere)
    assert meta["identity"] == finetune.identity(cfg) and finetune.is_current(cfg)
    assert json.loads((directory / "checkpoints" / RUN).read_text()) == to_resume(meta["identity"], cfg)
    assert not finetune.is_current(make_config(*elsewhere, "finetune.lr=1e-4"))
    assert not (root / "sweep" / "vqvae").exists()
    with pytest.raises(StaleInputError, match=rf"no trained VQ-VAE in {root / 'nowhere'}"):
        finetune.run(make_config(*elsewhere, f"vqvae.dir={root / 'nowhere'}"), progress=False)


def test_the_vqvae_trains_on_the_batches_the_limits_allow(trained):
    root, overrides, _ = trained
    limited = [*overrides, "vqvae.train.max_steps=null", "vqvae.train.epochs=1", "trainer.limit_train_batches=2"]
    assert train_vqvae.run(make_config(*limited), progress=False)["steps"] == 2


def test_the_vqvae_takes_a_tokenizer_that_extends_its_own_but_no_other(trained):
    # a base model's tokenizer is the task's with the latent tokens added: it maps text to the same ids
    from token_assorted.data import get_tokenizer, sequence_text
    from token_assorted.data.tokenizer import build_word_tokenizer
    from token_assorted.vqvae.checkpoint import checked_meta

    root, overrides, records = trained
    cfg = make_config(*overrides)
    extended = get_tokenizer(cfg, progress=False)
    extended.add_tokens(["<boLatent>", "<eoLatent>", "<latent_0>"], special_tokens=True)
    checked_meta(cfg, extended)
    worded = get_tokenizer(cfg, progress=False)
    worded.add_tokens(["zebra"])  # a word: text may encode to an id the VQ-VAE never had
    with pytest.raises(StaleInputError, match="made with tokenizer checksum"):
        checked_meta(cfg, worded)
    other = build_word_tokenizer(sequence_text(record) for record in records[200:240])  # other words, other ids
    with pytest.raises(StaleInputError, match="made with tokenizer checksum"):
        checked_meta(cfg, other)


def test_finetune_refuses_a_vqvae_of_another_codebook_size(trained):
    root, overrides, _ = trained
    with pytest.raises(StaleInputError, match=r"vqvae.codebook_size=16 \(now 32\).*train_vqvae"):
        finetune.run(make_config(*overrides, "vqvae.codebook_size=32"), progress=False)
    assert not (root / "out" / "finetune" / "prosqa" / "random-replace").exists()


def test_regenerated_data_is_refused_by_every_stage_that_uses_the_vqvae(trained):
    root, overrides, records = trained
    data = root / "data" / "prosqa"
    splits = {"train": records[100:140], "valid": records[40:48], "test": records[48:56]}  # regenerated
    for split, rows in splits.items():
        write_records(data / f"{split}.json", rows)
    write_meta(data, config={}, seed=1, inputs={s: sha256(data / f"{s}.json") for s in splits})
    cfg = make_config(*overrides)
    for stage in (finetune, vqvae_main):
        with pytest.raises(StaleInputError, match=r"; train checksum .*train_vqvae task=prosqa"):
            stage.run(cfg)


def test_a_split_generated_under_other_settings_is_refused(tmp_path):
    from token_assorted.data.splits import generate, load_split

    made = ["task=prosqa", f"data.dir={tmp_path}", "task.sizes.train=20", "task.sizes.valid=4", "task.sizes.test=4"]
    generate(make_config(*made), progress=False)
    assert len(load_split(make_config(*made), "train")) == 20
    # finetune task.sizes.train=10 would train on the 20 there and record 10
    with pytest.raises(ConfigError, match=r"prosqa was generated under other settings \(data.seed=0 \(now 1\), "
                                          r"task.sizes.train=20 \(now 10\)\): give the settings it was made with to "
                                          r"use it, or .*`python -m token_assorted.generate_data task=prosqa "
                                          r"data.dir=DIR[^`]*` and give data.dir=DIR to every stage"):
        load_split(make_config(*made, "task.sizes.train=10", "data.seed=1"), "train")


def test_a_split_edited_since_it_was_generated_is_refused(tmp_path):
    from token_assorted.data.splits import load_split

    cfg = make_config("task=prosqa", f"data.dir={write_reference_splits(tmp_path / 'data', 8, 2, 2)}")
    assert len(load_split(cfg, "train")) == 8
    train = tmp_path / "data" / "prosqa" / "train.json"
    records = load_records(train)
    write_records(train, [{**records[0], "answer": "edited"}, *records[1:]])
    with pytest.raises(StaleInputError, match=r"train.json has changed since it was generated .*generate_data"):
        load_split(cfg, "train")
    (tmp_path / "data" / "prosqa" / "meta.json").unlink()  # splits put there by hand: taken as they are
    assert load_split(cfg, "train")[0]["answer"] == "edited"
