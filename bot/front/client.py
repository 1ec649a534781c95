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
from bot.front.sync import sync_commands
from bot.front.tree import ImagineTree
from bot.identity import MemberIds, load_or_create_salt
from bot.images.client import ImagesClient
from bot.limits import Limiter, open_store
from bot.moderation import ModerationClient, open_server_settings
from bot.service import ImageService

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.imagine",
    "cogs.edit",
    "cogs.vary",
    "cogs.quota",
    "cogs.settings",
    "cogs.modlog",
)


class ImagineBot(commands.Bot):
    """The bot. Holds the settings, the one aiohttp session and the Images API client."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
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
        self.profile = settings.profile
        self.store = open_store(settings.state_url)
        self.limiter = Limiter(
            self.store,
            images_per_minute=settings.images_per_minute,
            max_concurrent=settings.max_concurrent_requests,
            max_waiting=settings.queue_max,
            max_waiting_per_member=settings.queue_max_per_member,
        )
        self.images = ImagesClient.from_settings(session, settings)
        self.images.on_rate_limited = self.limiter.pause_for
        salt = settings.user_id_salt
        self.member_ids = MemberIds(
            salt.reveal().encode() if salt else load_or_create_salt(settings.data_dir)
        )
        # Server settings share the state store's URL: their own table or keys beside the quotas.
        self.server_settings = open_server_settings(settings.state_url)
        moderation = (
            ModerationClient(
                session,
                base_url=settings.moderation_base_url,
                api_key=settings.moderation_api_key,
                model=settings.moderation_model,
                block_categories=settings.moderation_block_categories,
                fail_open=settings.moderation_fail_open,
                organization=settings.openai_org_id,
                project=settings.openai_project_id,
            )
            if settings.moderation_enabled
            else None
        )
        self.service = ImageService(
            self.images,
            session,
            self.limiter,
            settings,
            servers=self.server_settings,
            moderation=moderation,
        )
        self.jobs = JobTracker()
        self.closing = False

    async def setup_hook(self) -> None:
        await self.store.open()
        await self.server_settings.open()
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
            await self.store.close()
            await self.server_settings.close()
