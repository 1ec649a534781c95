"""The bot's settings, declared once (`table`), read once (`Settings.from_env`)."""

from bot.config.reader import ConfigError
from bot.config.settings import Settings, configure_logging

__all__ = ["ConfigError", "Settings", "configure_logging"]
