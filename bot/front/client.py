"""The bot: a `commands.Bot` subclass that loads the cogs and owns the start and the shutdown.

Extensions load from a fixed list in `setup_hook` (as in RoboDanny's `bot.py`), each failure
logged; commands are then synced only when they changed (`bot.front.sync`). `shutdown` refuses
new commands (the tree checks `closing`) and drains the running ones (`bot.front.jobs`).
"""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord.ext import commands

from bot.config import Settings
from bot.front.jobs import JobTracker
from bot.front.parts import Parts
from bot.front.sync import sync_commands
from bot.front.tree import ImagineTree

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.imagine",
    "cogs.edit",
    "cogs.vary",
    "cogs.quota",
    "cogs.settings",
    "cogs.modlog",
    "cogs.cancel",
)


class ImagineBot(commands.Bot):
    """The bot. Holds the settings, the one aiohttp session and the parts built from them."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession, parts: Parts) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channel and role cache; no privileged intent is needed
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ImagineTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.session = session
        self.parts = parts
        self.profile = settings.profile
        self.store = parts.store
        self.limiter = parts.limiter
        self.images = parts.images
        self.member_ids = parts.member_ids
        self.server_settings = parts.server_settings
        self.service = parts.service
        self.jobs = JobTracker()
        self.closing = False

    async def setup_hook(self) -> None:
        await self.parts.open()
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                log.exception("could not load %s", extension)
        await sync_commands(self, self.settings.discord_guild_id)

    async def shutdown(self) -> None:
        """Stop taking commands, let running jobs finish within the grace period, then close."""
        if self.closing:
            return
        self.closing = True
        await self.jobs.drain(self.settings.shutdown_grace)
        log.info("shutting down: closing the connection to Discord")
        await self.close()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.parts.close()
