"""Typed schemas for the Hydra configs in conf/: a misspelled key or a wrong type is an error.

One config tree serves every entry point, so training and evaluation cannot silently disagree.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING, OmegaConf

from .errors import ConfigError
from .precision import bf16_where_fast

# The settings that name one of a few choices (check_settings), each with the code that reads it
CODE_CHOICES = ("token", "pooled")  # eval.code_choice: evaluation/pooled_codes.py
SCHEDULES = ("cosine", "linear")  # finetune.schedule, vqvae.train.schedule: schedule.py
ARCHS = ("llama", "qwen3", "gpt2")  # model.arch: lm/model.py
DTYPES = ("float32", "bfloat16")  # model.dtype: lm/model.py
LATENT_INITS = ("mean", "codebook")  # model.latent_init: latent/embeddings.py
ENCODER_CONTEXTS = ("prompt", "trace", "chunk")  # vqvae.encoder_context: vqvae/model.py
QUANTIZERS = ("vq", "fsq", "rvq")  # vqvae.quantizer: vqvae/quantizer.py
LOGGERS = ("csv", "tensorboard", "wandb")  # trainer.logger: trainer_settings.loggers
# Counts that must be 1 or more where set (None: unset): 0 would end in an error of torch's, Lightning's or
# transformers' own, a division by zero, or nothing done at all
COUNTS = (
    "eval.batch_size", "eval.num_samples", "eval.top_k", "eval.limit",
    "finetune.epochs", "finetune.max_steps", "finetune.batch_size", "finetune.length_window",
    "base.train.epochs", "base.train.max_steps", "base.train.batch_size", "base.train.length_window",
    "vqvae.train.epochs", "vqvae.train.max_steps", "vqvae.train.batch_size", "vqvae.train.length_window",
    "vqvae.chunk_size", "vqvae.compression", "vqvae.codebook_size",
    "trainer.log_every_n_steps", "trainer.checkpoint_every_n_steps", "curve.records", "threads",
)
RATES = ("finetune.lr", "vqvae.train.lr", "base.train.lr")  # above 0
POOLED_LABEL = "latent codes chosen as one (eval.code_choice=pooled)"  # how reports say that codes were pooled

# What each stage's outputs depend on besides its input files (sections, or dotted keys inside one): the settings of
# its identity (identity.py). A change to any of them makes `make eval` run the stage again; a crashed training run
# resumes from its last checkpoint only under the same ones and the same PROCESS_LAYOUT. The rest (pipeline.*,
# bench.*, logging, checkpointing, loader workers) changes how a run goes, not what it makes.
LIMITS = ("trainer.limit_train_batches", "trainer.limit_val_batches")
VQVAE_SETTINGS = ("vqvae", "trainer.precision", *LIMITS, "seed")
FINETUNE_SETTINGS = (
    "task.name", "task.sizes.train", "task.sizes.valid", "task.params", "task.train_mix", "task.max_new_tokens",
    "data.dir", "data.seed",
    "model", "mode", "base.use", "finetune", "trainer.precision", *LIMITS, "seed",
)
EVAL_SETTINGS = ("task", "data", "model", "mode", "base.use", "finetune", "eval", "seed")
SHOW_ONLY = ("eval.example", "eval.question")  # read by `show` alone: no evaluation depends on them
PROCESS_LAYOUT = ("trainer.accelerator", "trainer.devices", "trainer.strategy", "trainer.num_nodes")
# What a fine-tuned model's weights depend on: the model at a mode's own place (<out_dir>/finetune/<task>/<mode>) is
# evaluated only under these same settings, so its results never name settings it was not trained under. The rest
# of FINETUNE_SETTINGS is validation's, generation's, or may differ on the machine evaluating it.
NOT_IN_THE_WEIGHTS = (
    "task.sizes.valid", "task.max_new_tokens", "data.dir", "trainer.precision", "trainer.limit_val_batches",
)
TRAINED_UNDER = tuple(key for key in FINETUNE_SETTINGS if key not in NOT_IN_THE_WEIGHTS)
SAME_MODEL_UNDER = ("model.attention", "model.gradient_checkpointing")  # how it computes, not what it learns
# Where a loaded task's rows come from: generate_data alone reads them, and the splits' checksums stand for them
DATA_ORIGIN = ("task.params.source", "task.params.test_source")
@dataclass
class TaskConfig:
    name: str = MISSING  # the benchmark: conf/task/<name>.yaml, token_assorted/tasks/<name>.py
    sizes: Dict[str, int] = field(default_factory=dict)  # split -> number of records
    params: Dict[str, Any] = field(default_factory=dict)  # generator knobs, checked by the task's Params
    # knob -> the values each training record draws from, uniformly (a value twice weighs twice); the knobs not named
    # take task.params's value, and the valid and test splits task.params's alone: train on a mix of difficulties,
    # test at one stated difficulty
    train_mix: Dict[str, List[Any]] = field(default_factory=dict)
    max_new_tokens: int = 128  # generation budget at evaluation


@dataclass
class DataConfig:
    dir: str = "data"  # generated splits go to <dir>/<task>/
    seed: int = 0  # the generator's: the same seed and settings give the same bytes
    test_file: Optional[str] = None  # evaluate this Coconut-format file instead of the generated test split


@dataclass
class LoraConfig:
    rank: int = 0  # 0 = full fine-tuning; > 0 trains LoRA adapters (peft) plus the embedding rows
    alpha: int = 32  # LoRA's scale: the adapters' output is multiplied by alpha / rank
    dropout: float = 0.05  # on the adapters' input, in training
    target_modules: List[str] = field(default_factory=lambda: ["all-linear"])  # peft's names; all-linear = every linear layer


@dataclass
class ModelConfig:
    name: str = "tiny"  # the conf/model/ entry these settings came from
    path: Optional[str] = None  # a local pretrained causal LM (or hub name); None builds one from this config
    arch: str = "llama"  # llama | qwen3 (llama with QK-norm) | gpt2, for models built from this config
    hidden_size: int = 128  # width of a model built from this config
    num_layers: int = 4  # decoder layers
    num_heads: int = 4  # attention heads per layer
    intermediate_size: int = 512  # width of the MLP inside each layer
    max_positions: int = 1024  # the longest sequence, prompt and generation together
    dropout: float = 0.0  # on attention and residual paths, in training
    # > 0: a model built from this config starts its attention layers from the mimetic initialisation at this scale
    # (lm/init.py); 0: transformers' own random initialisation
    mimetic_init: float = 0.0
    # transformers' attn_implementation (eager | sdpa | ...), in training and evaluation alike; None = sdpa, computed
    # in float32 under a CPU's bf16 autocast (attention.py), where the model's class takes transformers' attention
    # functions (else the class's own default)
    attention: Optional[str] = None
    latent_init: str = "mean"  # mean | codebook: how the new latent-token embedding rows start
    # float32 | bfloat16: the weights of a model.path model as loaded, to fine-tune and to evaluate (autocast is
    # trainer.precision)
    dtype: str = "float32"
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, slower
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass
class OptimConfig:
    epochs: int = 10  # passes over the training split (max_steps may end training first)
    max_steps: Optional[int] = None  # stop after this many optimizer steps even if the epochs are not done
    batch_size: int = 32  # records per optimizer step, over all processes together
    lr: float = 1e-3  # AdamW's peak learning rate
    weight_decay: float = 0.01  # AdamW's
    warmup_ratio: float = 0.05  # the share of the steps over which the rate rises linearly to lr
    schedule: str = "cosine"  # cosine | linear: the learning-rate decay after warmup, down to final_lr_ratio x lr
    final_lr_ratio: float = 0.0  # the rate at the end as a share of the peak
    grad_clip: float = 1.0  # the gradients' largest norm; larger ones are scaled down to it
    # training batches hold records of similar length: shuffled, sorted by length in windows of this many batches,
    # the batches shuffled again. Less padding to compute, at some cost in val_loss; 1 = plain shuffled batches
    length_window: int = 50


@dataclass
class VQVAEConfig:
    # defaults as in conf/vqvae/default.yaml
    chunk_size: int = 8  # L: reasoning tokens per chunk
    compression: int = 8  # r: tokens per code, so a chunk has L/r codes
    codebook_size: int = 64  # K
    quantizer: str = "vq"  # vq | fsq | rvq
    fsq_levels: List[int] = field(default_factory=lambda: [8, 8])  # fsq: K = product of levels
    rvq_quantizers: int = 2  # rvq: residual stages sharing one codebook, so a chunk has rvq_quantizers * L/r codes
    dim: int = 128
    heads: int = 2
    prompt_layers: int = 2  # g(P): the prompt's token states that f_enc and f_dec cross-attend to
    encoder_layers: int = 2
    decoder_layers: int = 2
    # what f_enc reads to make a chunk's codes, besides the chunk: prompt = the prompt and the trace before it; trace
    # = the trace before it; chunk = nothing. With less to read, a code must itself say what its chunk holds
    encoder_context: str = "prompt"
    commitment_weight: float = 0.25
    ema_decay: float = 0.8  # codebook EMA
    dead_code_threshold: float = 0.1  # a code whose EMA usage per batch falls below this is re-seeded from the batch
    # steps before the bottleneck switches on and k-means initialises the codebook; at most a quarter of training
    # (metrics.json records the steps it took)
    continuous_steps: int = 200
    # unlike the LM's, the VQ-VAE's rate decays to a tenth of the peak, not to 0
    train: OptimConfig = field(default_factory=lambda: OptimConfig(epochs=4, batch_size=32, lr=1e-3, final_lr_ratio=0.1))
    # where the task's VQ-VAE is (read, or trained into): another run's <out_dir>/vqvae/<task>, so that the runs of a
    # sweep share one instead of copies; None: this out_dir's own. Where it lives is not part of what it is
    dir: Optional[str] = None


@dataclass
class BaseConfig:
    """A cot model per task, trained first ("stage 0", as Coconut and iCoT start from), from which every method
    fine-tunes for its own finetune.* budget: the pretrained LM of the paper's logic tasks, made here."""

    use: bool = False  # fine-tunes start from the base model (<out_dir>/base/finetune/<task>/cot), not from model.*
    train: OptimConfig = field(default_factory=OptimConfig)  # how the base model trains (as finetune.* a method)


@dataclass
class MethodSettings:
    """The mode section every method's own settings extend: `mode=<name>` selects a method's Settings
    (token_assorted/methods/), so a key that method does not read is refused."""

    name: str = MISSING  # the method: token_assorted/methods/<module>.py, its Settings registered under this name


@dataclass
class TrainerConfig:
    accelerator: str = "auto"  # auto | cpu | gpu (Lightning's): auto takes a GPU where there is one
    devices: Any = 1  # how many of them (Lightning's devices)
    strategy: str = "auto"  # auto | ddp | fsdp (Lightning's own)
    num_nodes: int = 1  # machines, for multi-node training
    # by default bf16-mixed where bf16 arithmetic is fast, else 32-true (precision.bf16_where_fast); or Lightning's own
    precision: str = "${bf16_where_fast:${trainer.accelerator}}"
    log_every_n_steps: int = 20  # training loss logged (train_log.csv) this often
    num_workers: int = 0  # DataLoader worker processes; 0 = batches made in the training process
    limit_train_batches: Any = None  # Lightning's: an int (batches) or a float (share); None = all
    limit_val_batches: Any = None  # as limit_train_batches, for validation
    checkpoint_every_n_steps: int = 100  # last.ckpt this often (and once an epoch); a rerun resumes from it
    # csv | tensorboard | wandb: Lightning's logger to send the training curves to as well; the CSV logs in each run's
    # folder are always written (train_log.csv and resuming read them)
    logger: str = "csv"


@dataclass
class CurveConfig:
    """A learning curve from one fine-tune: greedy accuracy on valid records as training goes (evaluation/curve.py).
    How a run is watched, not what it makes: no part of any stage's identity."""

    every: int = 0  # evaluate every this many optimizer steps; 0 = never
    records: int = 200  # the first this many valid records


@dataclass
class EvalConfig:
    batch_size: int = 64  # test prompts generated at once
    num_samples: int = 10  # maze 1-Feasible-10: samples per problem
    top_k: int = 10  # the maze's sampling: from the k likeliest tokens
    limit: Optional[int] = None  # evaluate only the first N test records
    checkpoint: Optional[str] = None  # a model directory to evaluate; None = <out_dir>/finetune/<task>/<mode>
    # where an evaluation of another test file (data.test_file) or checkpoint goes: <out_dir>/eval-files/<name>/, apart
    # from the benchmark's; None = named after the file and the checkpoint
    name: Optional[str] = None
    example: int = 0  # show: the test record to print
    question: Optional[str] = None  # show: a question of one's own to answer instead of a test record; "-": stdin
    seed: int = II("seed")  # sampling (the maze's top-k): a new draw of samples needs no retraining
    force_latents: Optional[int] = None  # k: open every generation with <boLatent>, k codes, <eoLatent>; 0 = no latents
    # token: every token competes on its own probability (DESIGN.md's decoding); pooled: the codes inside a latent
    # block compete as one, so the block goes on as often as the model says (evaluation/pooled_codes.py)
    code_choice: str = "token"


@dataclass
class PipelineConfig:
    tasks: List[str] = field(default_factory=lambda: ["maze", "prontoqa", "prosqa"])
    # methods, or groups of them (methods.GROUPS): "all" every method, "ablations" the replacement modes
    methods: List[str] = field(default_factory=lambda: ["sol-only", "cot", "random-replace"])
    workers: int = 2  # jobs run at once, each in its own process with cpu_count // workers threads; 1 = in this process


@dataclass
class BenchConfig:
    """`python -m token_assorted.bench`: what is measured and how often (each figure: median, min, max of repeats)."""

    tasks: List[str] = field(default_factory=lambda: ["prosqa", "prontoqa", "maze"])  # the first also: speed, growth
    baseline: str = "cot"
    method: str = "random-replace"
    repeats: int = 3
    problems: Optional[int] = 20  # test problems per inference run (a task may set its own); None = all
    train_steps: int = 8  # timed optimizer steps per training-throughput run
    # bf16 autocast's steps of the preset's model on a CPU without bf16 arithmetic, where each is slow (its
    # speedup is against fp32 on the same batches); elsewhere bf16 runs all train_steps
    slow_bf16_steps: int = 2
    # fp32 / bf16 speed also on this conf/model/ entry, in small batches (a GPT-2 small step takes seconds on a
    # CPU): bf16 pays off where matrix products dominate, which they do not in the tiny model; None = skip.
    # Its bf16 run only where bf16 arithmetic is fast (bf16_where_fast): elsewhere a step takes minutes
    large_model: Optional[str] = "gpt2-small"
    large_model_batch: int = 4
    large_model_steps: int = 2
    encode_records: int = 256  # records encoded per encoding-throughput run
    growth_records: int = 128  # the 1x data size of the growth runs
    growth_scales: List[int] = field(default_factory=lambda: [1, 2, 4])
    curve_points: int = 3  # force_latents values, evenly from 0 to the most codes a training sample held
    peak_tflops: Optional[float] = None  # the GPU's dense bf16 peak for MFU; None = looked up by device name


@dataclass
class Config:
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    vqvae: VQVAEConfig = field(default_factory=VQVAEConfig)
    mode: MethodSettings = field(default_factory=MethodSettings)
    base: BaseConfig = field(default_factory=BaseConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    finetune: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    curve: CurveConfig = field(default_factory=CurveConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    preset: str = "default"  # conf/preset/<name>.yaml: sizes and budgets (default = a 2-core CPU; quick, gpu, paper)
    # CPU threads of this command's process; None = OMP_NUM_THREADS where set, else the cores not busy when it starts
    # (precision.free_cores). The pipeline's jobs take their share of the cores instead (pipeline.workers)
    threads: Optional[int] = None
    out_dir: str = "outputs"  # where every stage writes (layout.py)
    seed: int = 0  # of training: initialisation, batch order, the latent chunks each sample replaces


OmegaConf.register_new_resolver("bf16_where_fast", bf16_where_fast)
ConfigStore.instance().store(name="schema", node=Config)


def with_defaults(recorded: dict) -> dict:
    """A recorded config with the settings added to the schema since at their defaults, which keep the old
    behaviour (so adding a setting does not make every earlier run stale); as recorded if it no longer fits. The mode
    section stays as recorded: its schema is its method's (token_assorted/methods/), not MethodSettings."""
    from omegaconf.errors import OmegaConfBaseException

    rest = {key: value for key, value in recorded.items() if key != "mode"}
    try:
        filled = OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(Config), rest), resolve=True)
    except OmegaConfBaseException:
        return recorded
    return {**filled, "mode": recorded["mode"]} if "mode" in recorded else filled


@functools.cache
def _schema():
    return OmegaConf.structured(Config)


def schema_default(key: str):
    """The schema's default for a dotted setting; None where it has none (a method's own keys are its schema's)."""
    value = OmegaConf.select(_schema(), key, default=None, throw_on_missing=False)
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def settings(cfg, keys) -> dict:
    """The values of `keys` (sections, or dotted keys inside one) in a config or a recorded one."""
    config = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else with_defaults(cfg)

    def value(key: str):
        node = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    return {key: value(key) for key in keys}


def check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {key} '{value}'; choose one of: {', '.join(choices)}")


def check_code_choice(code_choice: str) -> None:
    check_choice("eval.code_choice", code_choice, CODE_CHOICES)


CHOICES = {
    "eval.code_choice": CODE_CHOICES,
    "finetune.schedule": SCHEDULES,
    "vqvae.train.schedule": SCHEDULES,
    "base.train.schedule": SCHEDULES,
    "model.arch": ARCHS,
    "model.dtype": DTYPES,
    "model.latent_init": LATENT_INITS,
    "vqvae.encoder_context": ENCODER_CONTEXTS,
    "vqvae.quantizer": QUANTIZERS,
    "trainer.logger": LOGGERS,
}


def check_settings(cfg) -> None:
    """Settings that name one of a few choices, and counts: a wrong one stops any command before it does any work."""
    for key, choices in CHOICES.items():
        check_choice(key, OmegaConf.select(cfg, key), choices)
    for key in COUNTS:
        if (value := OmegaConf.select(cfg, key)) is not None and value < 1:
            raise ConfigError(f"{key} is {value}; it counts, so it must be at least 1")
    for key in RATES:
        if (value := OmegaConf.select(cfg, key)) <= 0:
            raise ConfigError(f"{key} is {value}; a learning rate must be above 0")
    if cfg.model.mimetic_init < 0:
        raise ConfigError(f"model.mimetic_init is {cfg.model.mimetic_init}; give a scale above 0, or 0 for none")
    if cfg.curve.every < 0:
        raise ConfigError(f"curve.every is {cfg.curve.every}; give a number of steps, or 0 for no curve")


def check_model_path(path: str | None, file: str) -> None:
    """A model.path that names a folder here must be a save_pretrained one holding `file` (the tokenizer's or the
    model's config); any other is taken for a hub name. Checked where each is loaded: an evaluation reads its
    checkpoint alone."""
    if not path:
        return
    if not (path.startswith(("/", ".")) or Path(path).exists()):
        check_hub_name(path, file)
        return
    if not Path(path).is_dir():
        raise ConfigError(f"no such directory: {path} (model.path); give a save_pretrained directory or a hub name")
    if not (Path(path) / file).is_file():
        raise ConfigError(f"no {file} in {path} (model.path): expected a save_pretrained directory")


def check_hub_name(name: str, file: str) -> None:
    """A hub name must be in the local cache or the hub reachable; otherwise stop at once with one line, rather
    than after transformers' retries."""
    import os
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, file), str):
        return
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        if offline:
            raise OSError("HF_HUB_OFFLINE is set")
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as err:
        raise ConfigError(
            f"model.path '{name}' is no folder here and the hub cannot be reached ({err}); download the model where "
            f"it can (`huggingface-cli download {name} --local-dir DIR`) and give model.path=DIR"
        ) from None
