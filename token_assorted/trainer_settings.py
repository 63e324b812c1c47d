"""Lightning's complaints about the `trainer.*` settings, as one-line ConfigErrors instead of tracebacks."""

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
