"""Bad input on the command line: one `error: ...` line on stderr, exit status 2, no traceback.

Most cases call the entry point's `main()` in this process with a patched argv (what `python -m` runs); one runs
a real interpreter, to show the whole path."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import ROOT

from token_assorted import evaluate, finetune, generate_data, pipeline, show, train_vqvae
from token_assorted.bench import __main__ as bench_main
from token_assorted.data import sequence_text
from token_assorted.records import write_records
from token_assorted.data.tokenizer import build_word_tokenizer
from token_assorted.errors import DataError
from token_assorted.evaluation.harness import generation_budget
from token_assorted.io import sha256, write_meta


def one_error_line(stderr: str) -> str:
    """The error a user sees: one `error: ...` line, the last (progress bars may come before), no traceback."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in stderr, stderr
    return errors[0]


def run_main(module, monkeypatch, capsys, *arguments) -> str:
    """Run `python -m <module> arguments` in this process; it must exit with status 2 and one error line."""
    monkeypatch.setattr(sys, "argv", [module.__name__, *arguments])
    with pytest.raises(SystemExit) as exit_:
        module.main()
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and "Traceback" not in captured.out
    return one_error_line(captured.err)


@pytest.fixture(scope="module")
def records(reference_dir):
    return json.loads((reference_dir / "prosqa_valid.json").read_text())[:6]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, records):
    """A tiny untrained model with 24 positions, saved as finetune would save one."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_word_tokenizer(sequence_text(r) for r in records)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
        intermediate_size=32, max_position_embeddings=24, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    directory = tmp_path_factory.mktemp("checkpoint")
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture
def bad_files(tmp_path, records):
    files = {
        "truncated": json.dumps(records)[:500].encode(),
        "missing_answer": json.dumps([records[0], {k: v for k, v in records[1].items() if k != "answer"}]).encode(),
        "object": json.dumps({"data": records}, indent=1).encode(),
        "not_utf8": b"[\xff]",
        "empty": b"",
        "steps_not_list": json.dumps([{**records[0], "steps": "one step"}]).encode(),
    }
    for name, content in files.items():
        (tmp_path / f"{name}.json").write_bytes(content)
    return tmp_path


@pytest.mark.parametrize(
    "name, message",
    [
        ("truncated", "truncated.json: malformed JSON at line 1"),
        ("missing_answer", "missing_answer.json, record 1, field 'answer': missing"),
        ("object", "object.json: malformed JSON on line 1"),
        ("not_utf8", "not_utf8.json: not UTF-8 text (bad byte at offset 1)"),
        ("empty", "empty.json: the file is empty"),
        ("steps_not_list", "steps_not_list.json, record 0, field 'steps': expected list, got str"),
        ("does_not_exist", "does_not_exist.json: no such file"),
    ],
)
def test_evaluate_a_bad_test_file(bad_files, checkpoint, monkeypatch, capsys, name, message):
    line = run_main(evaluate, monkeypatch, capsys, "task=prosqa", f"data.test_file={bad_files / name}.json",
                    f"eval.checkpoint={checkpoint}", f"out_dir={bad_files / 'out'}")
    assert message in line
    assert not list((bad_files / "out").rglob("*.json"))  # nothing written


def test_evaluate_prompts_longer_than_the_models_context(checkpoint, records, tmp_path, monkeypatch, capsys):
    write_records(tmp_path / "test.json", records)
    line = run_main(evaluate, monkeypatch, capsys, "task=prosqa", f"data.test_file={tmp_path / 'test.json'}",
                    f"eval.checkpoint={checkpoint}", f"out_dir={tmp_path / 'out'}")
    assert f"{tmp_path / 'test.json'}, record " in line and "field 'question': the prompt has" in line
    assert "positions, no room left in the model's 24" in line


@pytest.mark.parametrize(
    "module, arguments, message",
    [
        (evaluate, ["task=nope"], "error: unknown task 'nope'; choose one of: gsm8k, gsm8k-aug, math, maze, metamathqa, prontoqa, prosqa"),
        (finetune, ["mode=randomreplace"], "error: unknown mode 'randomreplace'; did you mean random-replace? choose one "
                                            "of: all-replace, coconut, cot,"),
        (finetune, ["--task", "prontoqa"], "error: settings are written key=value, without dashes or spaces: write "
                                           "task=prontoqa"),
        (evaluate, ["--task=prontoqa"], "error: settings are written key=value, without dashes or spaces: write "
                                        "task=prontoqa"),
        (generate_data, ["task", "prontoqa"], "error: settings are written key=value, without dashes or spaces: "
                                              "write task=prontoqa"),
        (generate_data, ["task=prontoqa", "task.params.nodes=3"], "error: unknown setting 'task.params.nodes' (did "
                                                                   "you mean 'task.params.hops'?)"),  # its own keys
        (finetune, ["finetun.lr=1e-3"], "error: unknown setting 'finetun' (did you mean 'finetune'?)"),
        (pipeline, ["pipeline.tasks=prontoqa"], "error: pipeline.tasks is a list: write 'pipeline.tasks=[prontoqa]'"),
        (train_vqvae, ["model=gpt3"], "error: unknown model 'gpt3'; choose one of: gpt2-small, mini, tiny, tiny-assistant"),
        (finetune, ["finetune.epoch=3"], "error: unknown setting 'finetune.epoch'"),
        (generate_data, ["task.sizes.trian=3"], "error: unknown setting 'task.sizes.trian'"),  # sizes is a dict
        (evaluate, ["eval.limit=ten"], "error: Error merging override eval.limit=ten (Value 'ten' of type 'str'"),
        (evaluate, ["eval.checkpoint=/no/such/dir"], "error: no model checkpoint at /no/such/dir (eval.checkpoint)"),
        (generate_data, ["+task.params.depth=3"], "error: task.params for 'prosqa' has unknown keys ['depth']"),
        (finetune, ["mode=fixed", "mode.m=-8"], "error: "),
        # before anything runs: no checkpoint is looked for, no data generated
        (evaluate, ["eval.code_choice=beam"], "error: unknown eval.code_choice 'beam'; choose one of: token, pooled"),
        (generate_data, ["eval.code_choice=Pooled"], "error: unknown eval.code_choice 'Pooled'"),
        (finetune, ["finetune.schedule=step"], "error: unknown finetune.schedule 'step'; choose one of: cosine, linear"),
        (train_vqvae, ["vqvae.train.schedule=Cosine"], "error: unknown vqvae.train.schedule 'Cosine'"),
        (finetune, ["model.arch=gpt3"], "error: unknown model.arch 'gpt3'; choose one of: llama, qwen3, gpt2"),
        (finetune, ["model.latent_init=random"], "error: unknown model.latent_init 'random'; choose one of: mean,"),
        (evaluate, ["model.dtype=fp16"], "error: unknown model.dtype 'fp16'; choose one of: float32, bfloat16"),
        (train_vqvae, ["vqvae.quantizer=lfq"], "error: unknown vqvae.quantizer 'lfq'; choose one of: vq, fsq, rvq"),
        (finetune, ["base.use=false", "model.path=/no/such/model"], "error: no such directory: /no/such/model (model.path); give a"),
        (finetune, ["base.use=false", "model.path=."], "error: no tokenizer_config.json in . (model.path): expected a save_pretrained"),
        (evaluate, ["eval.top_k=0"], "error: eval.top_k is 0; it counts, so it must be at least 1"),
        (pipeline, ["eval.num_samples=0"], "error: eval.num_samples is 0; it counts, so it must be at least 1"),
        (finetune, ["finetune.batch_size=0"], "error: finetune.batch_size is 0; it counts, so it must be at least 1"),
        (finetune, ["finetune.max_steps=0"], "error: finetune.max_steps is 0; it counts, so it must be at least 1"),
        (train_vqvae, ["vqvae.train.epochs=0"], "error: vqvae.train.epochs is 0; it counts, so it must be at least 1"),
        (finetune, ["finetune.lr=-1"], "error: finetune.lr is -1.0; a learning rate must be above 0"),
        (finetune, ["trainer.checkpoint_every_n_steps=0"], "error: trainer.checkpoint_every_n_steps is 0; it counts"),
        (evaluate, ["--cfg", "job", "finetune.lrr=1e-3"], "error: unknown setting 'finetune.lrr'"),  # Hydra's flags too
        # `+` adds only what the schema has
        (evaluate, ["+finetune.lrr=1e-3"], "error: unknown setting 'finetune.lrr' (did you mean 'finetune.lr'?)"),
        (generate_data, ["task=maze", "task.params.rooms=abc"],
         "error: task.params.rooms for 'maze' must be int, got 'abc'"),
        (generate_data, ["task.sizes.train=-5"], "error: task.sizes.train is -5; a split needs records: at least 1"),
        # every task and method before the first task's data is made
        (pipeline, ["pipeline.methods=[cot,cott]"], "error: pipeline.methods: unknown mode 'cott'; did you mean cot? choose one of:"),
        (pipeline, ["pipeline.methods=[cott]"], "error: pipeline.methods: unknown mode 'cott'; did you mean cot? choose one of: all-replace, "
         "coconut, cot, curriculum-replace, fixed, icot, pause, poisson-replace, random-replace, softcot, sol-only; "
         "or a group of them: all, ablations"),
        (pipeline, ["pipeline.tasks=[prosqa,mazee]"], "error: pipeline.tasks: unknown task 'mazee'; did you mean maze? choose one of:"),
        # a mode.* key the run's modes ignore would change nothing
        (finetune, ["mode=random-replace", "mode.m=64"],
         "error: mode.m is not read by mode=random-replace; only by mode fixed"),
        (evaluate, ["mode=cot", "mode.epochs_per_stage=2"],
         "error: mode.epochs_per_stage is not read by mode=cot; only by mode curriculum-replace, coconut"),
        (pipeline, ["pipeline.methods=[sol-only,cot]", "mode.m_choices=[0,16]"],
         "error: mode.m_choices is not read by any mode of this run (sol-only, cot); only by mode random-replace"),
        (bench_main, ["mode.pause_tokens=4"],
         "error: mode.pause_tokens is not read by any mode of this run (cot, random-replace); only by mode pause"),
    ],
)
def test_unknown_names_typos_and_missing_paths(
    tmp_path, monkeypatch, capsys, reference_dir, module, arguments, message
):
    data = tmp_path / "data" / "prosqa"
    write_records(data / "test.json", json.loads((reference_dir / "prosqa_valid.json").read_text())[:3])
    line = run_main(module, monkeypatch, capsys, *arguments, f"data.dir={tmp_path / 'data'}", f"out_dir={tmp_path}")
    assert line.startswith(message)
    assert not (data / "train.json").exists()  # stopped before any work, leaving no folder
    assert not any((tmp_path / stage).exists() for stage in ("finetune", "vqvae", "eval"))


def test_a_hint_to_run_a_stage_first_carries_the_runs_overrides(tmp_path, monkeypatch, capsys):
    # followed as written, the command writes where this run reads, not to data/ and outputs/
    empty, out = tmp_path / "empty", tmp_path / "out"
    line = run_main(evaluate, monkeypatch, capsys, "preset=quick", "mode=cot", f"data.dir={empty}", f"out_dir={out}")
    command = f"python -m token_assorted.finetune task=prosqa mode=cot preset=quick data.dir={empty} out_dir={out}"
    assert f"run `{command}` first" in line
    line = run_main(finetune, monkeypatch, capsys, "preset=quick", "mode=cot", f"data.dir={empty}", "eval.checkpoint=x")
    command = "python -m token_assorted.generate_data task=prosqa preset=quick mode=cot"
    command += f" data.dir={empty} eval.checkpoint=x"
    assert f"run `{command}` first" in line


def test_a_hint_leaves_out_the_mode_keys_its_commands_mode_ignores(monkeypatch):
    from token_assorted import commands
    from token_assorted.errors import remedy

    monkeypatch.setattr(commands, "run_overrides", lambda: ["mode=softcot", "mode.soft_thoughts=2", "preset=quick",
                                                            "bench.tasks=[prosqa]", "finetune.lr=1e-3"])
    cfg = SimpleNamespace(task=SimpleNamespace(name="prosqa"), mode=SimpleNamespace(name="softcot"), preset="quick")
    # SoftCoT's frozen cot model: `finetune mode=cot mode.soft_thoughts=2` would be refused
    assert commands.stage_command(remedy("finetune", cfg, "mode=cot")) == (
        "python -m token_assorted.finetune task=prosqa mode=cot preset=quick 'bench.tasks=[prosqa]' finetune.lr=1e-3")
    assert commands.stage_command(remedy("generate_data", cfg)).startswith(
        "python -m token_assorted.generate_data task=prosqa mode=softcot mode.soft_thoughts=2 preset=quick")


def write_task(data, splits) -> None:
    for split, rows in splits.items():
        (data / f"{split}.json").parent.mkdir(parents=True, exist_ok=True)
        (data / f"{split}.json").write_text(json.dumps(rows))
    write_meta(data, config={}, seed=0, inputs={s: sha256(data / f"{s}.json") for s in splits})


def test_commands_reading_a_bad_train_split_name_it(tmp_path, monkeypatch, capsys, records):
    data = tmp_path / "prosqa"
    bad = {**records[3], "question": ""}
    write_task(data, {"train": records[:3] + [bad], "valid": records[4:], "test": records[4:]})
    for module in (finetune, train_vqvae):
        line = run_main(module, monkeypatch, capsys, "mode=cot", "base.use=false", f"data.dir={tmp_path}",
                        f"out_dir={tmp_path / 'out'}")
        assert f"{data / 'train.json'}, record 3, field 'question': empty" in line


def test_a_prompt_longer_than_the_context_names_its_record(capsys):
    assert generation_budget(8, [[1] * 3, [1] * 5], 100) == 3  # cut so the longest prompt still fits
    assert "note: max_new_tokens cut from 100 to 3: record 1 has a 5-token prompt" in capsys.readouterr().out
    assert generation_budget(8, [[1] * 3], 4) == 4 and capsys.readouterr().out == ""
    with pytest.raises(DataError, match=r"test.json, record 1, field 'question': the prompt has 9 positions"):
        generation_budget(8, [[1] * 3, [1] * 9], 100, file="test.json")


def test_evaluation_keeps_to_the_positions_and_precision_the_model_was_fine_tuned_with():
    from token_assorted.evaluation.checkpoint import Checkpoint

    model = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=131072))  # a pretrained model's own
    trained = {"config": {"model": {"max_positions": 2048}, "trainer": {"precision": "bf16-mixed"}}}
    fine_tuned = Checkpoint(path=None, model=model, tokenizer=None, meta=trained)
    assert (fine_tuned.max_positions, fine_tuned.training_precision) == (2048, "bf16-mixed")
    foreign = Checkpoint(path=None, model=model, tokenizer=None)  # any save_pretrained directory, without meta.json
    assert (foreign.max_positions, foreign.training_precision) == (131072, None)


@pytest.mark.slow
def test_the_real_command_line(bad_files, checkpoint):
    done = subprocess.run(
        [sys.executable, "-m", "token_assorted.evaluate", "task=prosqa",
         f"data.test_file={bad_files}/missing_answer.json",
         f"eval.checkpoint={checkpoint}", f"out_dir={bad_files / 'out'}"],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert one_error_line(done.stderr) == f"error: {bad_files}/missing_answer.json, record 1, field 'answer': missing"


@pytest.mark.parametrize(
    "module, setting, message",
    [
        (finetune, "trainer.precision=weird", "Precision 'weird' is invalid"),
        (train_vqvae, "trainer.strategy=nope", "invalid strategy name"),
    ],
)
def test_trainer_settings_lightning_rejects(tmp_path, monkeypatch, capsys, records, module, setting, message):
    write_task(tmp_path / "prosqa", {"train": records[:4], "valid": records[4:], "test": records[4:]})
    out = f"out_dir={tmp_path / 'out'}"
    line = run_main(module, monkeypatch, capsys, "mode=cot", "base.use=false", setting, f"data.dir={tmp_path}", out)
    assert message in line


@pytest.mark.parametrize("module", [generate_data, train_vqvae, finetune, evaluate, show, pipeline, bench_main])
def test_help_opens_with_what_the_command_does(module, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [module.__name__, "--help"])
    with pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    name = module.__name__.removesuffix(".__main__")
    summary = module.__doc__.splitlines()[0]
    assert text.startswith(f"python -m {name}\n\n{summary}\n")
    # then the settings this command reads, as now set, each with the description its schema gives it
    settings = text.split("Settings it reads", 1)[1]
    assert "\n  seed=0" in settings and "Config groups: task=" in settings
    own = {generate_data: "task.sizes.train=", train_vqvae: "vqvae.codebook_size=", finetune: "finetune.lr=",
           evaluate: "eval.batch_size=", show: "eval.question=", pipeline: "pipeline.workers=", bench_main: "bench."}
    assert own[module] in settings
    if module is generate_data:
        assert "finetune." not in settings and "vqvae." not in settings  # only what it reads
    if module is train_vqvae:
        assert "  vqvae.codebook_size=64" in settings and settings.split("vqvae.codebook_size=64")[1].split()[0] == "K"
    if module is finetune:  # a setting the method's Settings inherit is described where its base class has it
        described = {line.split()[0]: " ".join(line.split()[1:]) for line in settings.splitlines()
                     if line.startswith("  ")}
        assert described["mode.code_weight=1.0"].startswith("the training loss counts each latent-code token")
        sizes = next(setting for setting in described if setting.startswith("task.sizes."))
        assert described[sizes] == "split -> number of records"  # a free dict's first key


@pytest.mark.parametrize("command", ["generate_data", "train_vqvae", "vqvae", "train_base", "finetune", "evaluate",
                                     "show", "pipeline", "bench"])
def test_help_and_bad_settings_are_answered_before_torch_loads(command):
    # torch and lightning take seconds to import (more on a busy machine): --help, and a misspelled setting, are
    # answered before any of them loads. A fresh interpreter, as `python -m` gives, since this one has them loaded
    probe = ("import runpy, sys\n"
             "try:\n"
             f"    runpy.run_module('token_assorted.{command}', run_name='__main__', alter_sys=True)\n"
             "except SystemExit as exit_:\n"
             "    print('exit', exit_.code)\n"
             "print('loaded', sorted({'torch', 'lightning', 'transformers'} & set(sys.modules)))\n")
    for argument, status in [("--help", 0), ("finetun.lr=1", 2)]:
        done = subprocess.run([sys.executable, "-c", probe, argument], capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.stdout.strip().endswith(f"exit {status}\nloaded []"), done.stdout[-500:] + done.stderr[-2000:]
        if status == 0:
            assert "Settings it reads" in done.stdout
        else:
            assert "did you mean 'finetune'?" in done.stderr


def test_the_curve_plotter_answers_before_torch_loads():
    probe = ("import runpy, sys\n"
             "try:\n"
             "    runpy.run_module('token_assorted.evaluation.curve', run_name='__main__', alter_sys=True)\n"
             "except SystemExit as exit_:\n"
             "    print('exit', exit_.code)\n"
             "print('loaded', sorted({'torch', 'lightning', 'transformers'} & set(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.stdout.strip().endswith("exit 0\nloaded []"), done.stdout[-500:] + done.stderr[-2000:]
    assert "Plot the curve.csv of fine-tuned models" in done.stdout


def test_each_run_of_a_multirun_sweep_writes_to_its_own_folder(tmp_path, monkeypatch, capsys, records):
    write_task(tmp_path / "prosqa", {"train": records[:4], "valid": records[4:], "test": records[4:]})
    tiny = ["model.hidden_size=16", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=32",
            "finetune.epochs=1", "finetune.max_steps=1", "finetune.batch_size=2", "trainer.limit_val_batches=1"]
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["token_assorted.finetune", "--multirun", "task=prosqa", "mode=cot",
                                      "base.use=false", "finetune.lr=1e-3,2e-3", *tiny, f"data.dir={tmp_path}",
                                      f"out_dir={out}"])
    finetune.main()
    runs = sorted(path.name for path in (out / "multirun").iterdir() if path.is_dir())
    assert runs == ["0-finetune.lr=0.001", "1-finetune.lr=0.002"]  # each run's number and what the sweep varies
    for run, lr in zip(runs, (1e-3, 2e-3)):
        meta = json.loads((out / "multirun" / run / "finetune" / "prosqa" / "cot" / "meta.json").read_text())
        assert meta["config"]["finetune"]["lr"] == lr
    assert (out / "multirun" / "multirun.yaml").is_file() and not (out / "finetune").exists()

    # a swept setting's name is checked before any run starts, as a single run's is
    assert "did you mean 'finetune.lr'" in run_main(finetune, monkeypatch, capsys, "--multirun", "finetune.lrr=1,2")
