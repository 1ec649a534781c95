"""imagine-bot: a self-hosted Discord bot for OpenAI-compatible image generation."""

__version__ = "0.1.0"
