"""The bot: a `commands.Bot` subclass that loads the cogs and owns the start and the shutdown.

Extensions load from a fixed list in `setup_hook` (as in RoboDanny's `bot.py`), each failure
logged; commands are then synced only when they changed (`bot.front.sync`). `shutdown` refuses
new commands (the tree checks `closing`) and drains the running ones (`bot.front.jobs`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.config import Settings
from bot.front.connect import connect_gateway, log_in, silence_voice_warnings
from bot.front.jobs import JobTracker
from bot.front.parts import Parts
from bot.front.sync import sync_commands
from bot.front.translator import CatalogueTranslator
from bot.front.tree import ImagineTree

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.imagine",
    "cogs.edit",
    "cogs.vary",
    "cogs.quota",
    "cogs.help",
    "cogs.settings",
    "cogs.modlog",
    "cogs.metrics",
    "cogs.outbox",
    "cogs.cancel",
    "cogs.actions",
    "cogs.context_menus",
)


class ImagineBot(commands.Bot):
    """The bot. Holds the settings, the one aiohttp session and the parts built from them."""

    def __init__(
        self,
        settings: Settings,
        session: aiohttp.ClientSession,
        parts: Parts,
        **options: Any,  # discord.py's (a sharded bot's shard_count and shard_ids)
    ) -> None:
        silence_voice_warnings()
        intents = discord.Intents.none()
        intents.guilds = True  # channel and role cache; no privileged intent is needed
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ImagineTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
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
        self.records = parts.records
        # Stable across restarts, so a restart resolves its own earlier run's jobs at once.
        shards = settings.shard_ids if settings.shares_guilds else None
        self.records.claim("all" if shards is None else "shards-" + "-".join(map(str, shards)))
        self.jobs = JobTracker()
        # Jobs of this process still running (the outbox leaves them to their command), and
        # the bookkeeping tasks that must finish before the stores close.
        self.live_jobs: set[str] = set()
        self.background: set[asyncio.Task[Any]] = set()
        self.closing = False

    async def login(self, token: str) -> None:
        """discord.py's login, retried with capped backoff while Discord cannot be reached."""
        await log_in(self, lambda: super(ImagineBot, self).login(token))

    async def connect(self, *, reconnect: bool = True) -> None:
        """discord.py's gateway loop, restarted when the first connection fails (its bug)."""
        await connect_gateway(self, lambda: super(ImagineBot, self).connect(reconnect=reconnect))

    async def setup_hook(self) -> None:
        await self.parts.open()
        await self.tree.set_translator(CatalogueTranslator())  # reads the catalogues
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
        if self.background:
            await asyncio.wait(self.background, timeout=5)
        log.info("shutting down: closing the connection to Discord")
        await self.close()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.parts.close()


class ShardedImagineBot(ImagineBot, commands.AutoShardedBot):
    """The bot on SHARD_COUNT shards, or on the SHARD_IDS part of them (other processes run
    the rest, sharing one Redis: each budget stays one budget, see README "Several processes")."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession, parts: Parts) -> None:
        shard_ids = None if settings.shard_ids is None else list(settings.shard_ids)
        super().__init__(
            settings, session, parts, shard_count=settings.shard_count, shard_ids=shard_ids
        )


def make_bot(settings: Settings, session: aiohttp.ClientSession, parts: Parts) -> ImagineBot:
    """One gateway connection, as before, unless SHARD_COUNT asks for shards."""
    if settings.shard_count is None:
        return ImagineBot(settings, session, parts)
    return ShardedImagineBot(settings, session, parts)
