"""Typed schemas for the Hydra configs in conf/: a misspelled key or a wrong type is an error.

One config tree serves every entry point, so training and evaluation cannot silently disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class TaskConfig:
    name: str = MISSING
    sizes: Dict[str, int] = field(default_factory=dict)  # split -> number of records
    params: Dict[str, Any] = field(default_factory=dict)  # generator knobs, checked by the task's Params
    max_new_tokens: int = 128  # generation budget at evaluation


@dataclass
class DataConfig:
    dir: str = "data"  # generated splits go to <dir>/<task>/
    seed: int = 0
    test_file: Optional[str] = None  # evaluate this Coconut-format file instead of the generated test split


@dataclass
class ModelConfig:
    name: str = "tiny"
    path: Optional[str] = None  # a local pretrained causal LM (or hub name); None builds one from this config
    arch: str = "llama"  # llama | gpt2, for models built from this config
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 1024
    dropout: float = 0.0
    latent_init: str = "mean"  # mean | codebook: how the new latent-token embedding rows start


@dataclass
class OptimConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    schedule: str = "cosine"  # cosine | linear: the learning-rate decay after warmup, down to 0
    grad_clip: float = 1.0


@dataclass
class VQVAEConfig:
    chunk_size: int = 16  # L: reasoning tokens per chunk
    compression: int = 16  # r: tokens per code, so a chunk has L/r codes
    codebook_size: int = 64  # K
    quantizer: str = "vq"  # vq | fsq | rvq
    fsq_levels: List[int] = field(default_factory=lambda: [8, 8])  # fsq: K = product of levels
    rvq_quantizers: int = 2  # rvq: residual stages sharing one codebook, so a chunk has rvq_quantizers * L/r codes
    dim: int = 256
    heads: int = 4
    prompt_layers: int = 2  # g(P): the prompt's token states that f_enc and f_dec cross-attend to
    encoder_layers: int = 2
    decoder_layers: int = 2
    commitment_weight: float = 0.25
    ema_decay: float = 0.8  # codebook EMA
    dead_code_threshold: float = 0.1  # a code whose EMA usage per batch falls below this is re-seeded from the batch
    continuous_steps: int = 100  # steps before the bottleneck switches on and k-means initialises the codebook
    max_steps: Optional[int] = None  # stop after this many optimizer steps, even if train.epochs are not done
    train: OptimConfig = field(default_factory=lambda: OptimConfig(epochs=8, batch_size=64, lr=1e-3))


@dataclass
class ModeConfig:
    name: str = MISSING  # sol-only | cot | random-replace | all-replace | curriculum-replace | poisson-replace | fixed
    m_choices: Optional[List[int]] = None  # random-replace: the m drawn uniformly; None = 0, L, 2L, ... up to the trace
    m: int = 0  # fixed: the number of leading reasoning tokens replaced
    stage_caps: List[int] = field(default_factory=list)  # curriculum-replace: m in each stage (whole trace once m reaches it)
    epochs_per_stage: Optional[int] = None  # curriculum-replace: None = epochs // len(stage_caps), at least 1
    latent_rate: float = 0.5  # poisson-replace: expected share of chunks replaced, at random positions


@dataclass
class TrainerConfig:
    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"  # auto | ddp | fsdp (Lightning's own)
    num_nodes: int = 1
    precision: str = "bf16-mixed"
    log_every_n_steps: int = 20
    num_workers: int = 0
    limit_train_batches: Any = None  # Lightning's: an int (batches) or a float (share); None = all
    limit_val_batches: Any = None
    checkpoint_every_n_steps: int = 100  # last.ckpt this often (and once an epoch); a rerun resumes from it


@dataclass
class EvalConfig:
    batch_size: int = 64
    num_samples: int = 10  # maze 1-Feasible-10: samples per problem
    top_k: int = 10
    limit: Optional[int] = None  # evaluate only the first N test records
    checkpoint: Optional[str] = None  # a model directory to evaluate; None = <out_dir>/finetune/<task>/<mode>
    example: int = 0  # show: the test record to print


@dataclass
class PipelineConfig:
    tasks: List[str] = field(default_factory=lambda: ["maze", "prontoqa", "prosqa"])
    methods: List[str] = field(default_factory=lambda: ["sol-only", "cot", "random-replace"])


@dataclass
class Config:
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    vqvae: VQVAEConfig = field(default_factory=VQVAEConfig)
    mode: ModeConfig = field(default_factory=ModeConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    finetune: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    preset: str = "default"
    out_dir: str = "outputs"
    seed: int = 0


ConfigStore.instance().store(name="schema", node=Config)
