"""Token Assorted: mixing latent and text tokens for language model reasoning."""

__version__ = "0.1.0"
