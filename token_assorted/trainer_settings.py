"""The Lightning Trainer every training stage uses, and its complaints about the `trainer.*` settings as one-line
ConfigErrors instead of tracebacks."""

from __future__ import annotations

import contextlib

from .errors import ConfigError


@contextlib.contextmanager
def checked_trainer_settings():
    """Wrap the construction of a Lightning Trainer: what it rejects there can only come from the config."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except (MisconfigurationException, ValueError, ImportError) as err:
        raise ConfigError(f"the trainer settings (trainer.*) cannot be used: {str(err).splitlines()[0]}") from None


def make_trainer(trainer, optim, *, callbacks: list, logger, progress: bool, **extra):
    """The Lightning Trainer of a training stage: `trainer` (trainer.*) says where and how it runs, `optim` (the
    stage's OptimConfig) how long it trains and its gradient clipping. Batches are sharded by rank by the stage's
    own sampler (data/shards.py), the same way on one process or several."""
    import lightning as L

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
            callbacks=callbacks,
            logger=logger,
            use_distributed_sampler=False,
            enable_progress_bar=progress,
            enable_model_summary=progress,
            **extra,
        )
