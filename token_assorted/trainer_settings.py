"""The Lightning Trainer every training stage uses, quiet but for one progress bar (or, without a terminal of its own,
a line at each tenth of the run), its loggers, and its complaints about the `trainer.*` settings as one-line
ConfigErrors instead of tracebacks."""

from __future__ import annotations

import contextlib
import logging
import warnings

from .errors import ConfigError


@contextlib.contextmanager
def checked_trainer_settings():
    """Wrap the construction of a Lightning Trainer: what it rejects there can only come from the config."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except (MisconfigurationException, ValueError, ImportError) as err:
        raise ConfigError(f"the trainer settings (trainer.*) cannot be used: {str(err).splitlines()[0]}") from None


# Lightning's messages that say nothing to act on here: the batches are sharded and resumed by our own sampler, and
# SoftCoT keeps its frozen models in eval mode on purpose
KNOWN_WARNINGS = (
    ".*does not have many workers.*", ".*dataloader is not resumable.*", ".*module\\(s\\) in eval mode.*",
    ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*", ".*smaller than the logging interval.*",
)


def quiet_lightning() -> None:
    """Lightning's start-up lines (devices, a cloud-logging tip, "Trainer.fit stopped") and its known warnings off;
    real warnings stay."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    for message in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message)


def log_every(trainer, batches: int) -> None:
    """Log training loss at least once an epoch, in short runs too (Lightning logs every trainer.log_every_n_steps)."""
    trainer.log_every_n_steps = max(1, min(trainer.log_every_n_steps, batches))


# the package each of Lightning's own loggers needs (TensorBoard's takes tensorboard or tensorboardX)
LOGGER_PACKAGES = {"tensorboard": "tensorboardX", "wandb": "wandb"}
TENSORBOARD = "tensorboard"  # its folder beside the CSV logs


def loggers(trainer, directory, name: str, flush_every: int | None = None) -> list:
    """The CSV logger of a run's folder (directory/logs/, one version per attempt), and the one trainer.logger names
    besides: TensorBoard's in directory/tensorboard/, or a Weights & Biases run called `name`."""
    from lightning.pytorch import loggers as lightning_loggers

    csv = lightning_loggers.CSVLogger(directory, name="logs", **({"flush_logs_every_n_steps": flush_every}
                                                                   if flush_every else {}))
    try:
        if trainer.logger == "tensorboard":
            return [csv, lightning_loggers.TensorBoardLogger(directory, name=TENSORBOARD)]
        if trainer.logger == "wandb":
            return [csv, lightning_loggers.WandbLogger(name=name, save_dir=str(directory), project="token_assorted")]
    except ModuleNotFoundError:
        package = LOGGER_PACKAGES[trainer.logger]
        raise ConfigError(f"trainer.logger={trainer.logger} needs the {package} package: pip install {package}, or "
                          f"trainer.logger=csv") from None
    return [csv]


def step_progress():
    """One progress bar over the whole training run, in optimizer steps, with its ETA and the latest training loss
    (Lightning's own bar starts again each epoch, and a run capped by max_steps never finishes its epochs)."""
    import lightning as L
    from tqdm.auto import tqdm

    class StepProgress(L.Callback):
        bar = None

        def on_train_start(self, trainer, pl_module) -> None:
            if trainer.is_global_zero:
                self.bar = tqdm(total=int(trainer.estimated_stepping_batches), initial=trainer.global_step,
                                desc="training", unit="step", dynamic_ncols=True)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if self.bar is not None and trainer.global_step > self.bar.n:
                self.bar.update(trainer.global_step - self.bar.n)
                if (loss := trainer.callback_metrics.get("train_loss")) is not None:
                    self.bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)

        def on_train_end(self, trainer, pl_module) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return StepProgress()


# where step_lines() reports: silent unless a handler is attached (the pipeline's workers attach one to the terminal)
PROGRESS = logging.getLogger("token_assorted.progress")


def step_lines(parts: int = 10):
    """A line at each `parts`-th of the training run, in optimizer steps, with the progress bar's figures and the time
    left at the pace so far: the progress of a run whose output goes to a log file (a pipeline worker's)."""
    import time

    import lightning as L

    class StepLines(L.Callback):
        start, first, next_step, total = 0.0, 0, 0, 0

        def on_train_start(self, trainer, pl_module) -> None:
            self.start, self.first = time.perf_counter(), trainer.global_step  # a resumed run's pace is its own
            self.total = int(trainer.estimated_stepping_batches)
            self.next_step = self.first + max(1, (self.total - self.first) // parts)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            step = trainer.global_step
            if not trainer.is_global_zero or step < self.next_step or step >= self.total:
                return
            self.next_step = step + max(1, (self.total - self.first) // parts)
            left = (time.perf_counter() - self.start) * (self.total - step) / (step - self.first)
            # what the progress bar would show (the losses, the last validation's figures): is it learning?
            shown = "".join(f", {name} {float(value):.4g}" for name, value in trainer.progress_bar_metrics.items())
            PROGRESS.info("step %s/%s (%d %%)%s, about %d min left", f"{step:,}", f"{self.total:,}",
                          100 * step // self.total, shown, round(left / 60))

    return StepLines()


def make_trainer(trainer, optim, *, callbacks: list, logger, progress: bool, **extra):
    """The Lightning Trainer of a training stage: `trainer` (trainer.*) says where and how it runs, `optim` (the
    stage's OptimConfig) how long it trains and its gradient clipping; `logger`: loggers(). Batches are sharded by
    rank by the stage's own sampler (data/shards.py), the same way on one process or several."""
    import lightning as L

    quiet_lightning()
    with checked_trainer_settings():
        return L.Trainer(
            accelerator=trainer.accelerator,
            devices=trainer.devices,
            strategy=trainer.strategy,
            num_nodes=trainer.num_nodes,
            precision=trainer.precision,
            max_epochs=optim.epochs,
            max_steps=-1 if optim.max_steps is None else optim.max_steps,
            gradient_clip_val=optim.grad_clip,
            log_every_n_steps=trainer.log_every_n_steps,
            limit_train_batches=trainer.limit_train_batches,
            limit_val_batches=trainer.limit_val_batches,
            callbacks=[*callbacks, step_progress() if progress else step_lines()],
            logger=logger,
            use_distributed_sampler=False,
            enable_progress_bar=False,  # step_progress's bar instead
            enable_model_summary=False,  # the parameter count is in the command's last line and meta.json
            **extra,
        )
