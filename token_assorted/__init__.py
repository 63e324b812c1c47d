"""Token Assorted: mixing latent and text tokens for language model reasoning."""

__version__ = "0.1.0"

from . import config  # noqa: E402,F401  (the config schema and its resolvers, in every process, spawned ones too)
